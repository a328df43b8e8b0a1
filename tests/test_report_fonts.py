"""Chinese labels in report figures: every character has a glyph, a missing one is an error, the
user's rcParams stay untouched and the figure cache keys change with the font."""

from __future__ import annotations

import warnings

import matplotlib
import pandas as pd
import pytest

from bayescity.reports import cache as C
from bayescity.reports import figures as F
from bayescity.reports.cache import FigureMaker, content_key
from bayescity.reports.fonts import cjk_font_file, families, figure_fonts, missing_glyphs

LEVELS = ["东部", "中部", "西部"]


def _rows() -> pd.DataFrame:
    rows = [("twfe", "frequentist", "ATT", "overall", 1.0, 0.8, 1.2)]
    rows += [("twfe", "frequentist", "ATT_by_地区", lvl, 1.0 + k, 0.5 + k, 1.5 + k)
             for k, lvl in enumerate(LEVELS)]
    return pd.DataFrame(rows, columns=["estimator", "paradigm", "estimand", "term", "estimate",
                                       "lower", "upper"]).assign(interval_prob=0.95)


def test_chinese_labels_rasterise_with_every_glyph():
    before = list(matplotlib.rcParams["font.family"])
    text = "".join(LEVELS) + "地区 ATT by"
    assert missing_glyphs(text) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any "Glyph ... missing" warning fails the test
        fig = FigureMaker()(F.forest_plot, _rows())
    assert fig is not None and len(fig.png) > 1000
    assert list(matplotlib.rcParams["font.family"]) == before  # the user's rcParams untouched
    assert families()[-1] == "Noto Sans CJK SC" and cjk_font_file().suffix == ".otf"


def test_the_glyph_check_can_fail():
    """Without the report's fonts the same labels warn (and the test suite turns that warning
    into an error), and a character no font has is named."""
    with pytest.warns(UserWarning, match="missing from font"):
        fig = F.new_figure(3, 2)
        fig.subplots().set_title("东部")
        F.render(fig, "x", "t")
    assert missing_glyphs("a\U0010FFFD东") == ["\U0010FFFD"]
    with figure_fonts(), pytest.warns(UserWarning, match="missing from font"):
        fig = F.new_figure(3, 2)
        fig.subplots().set_title("\U0010FFFD")
        F.render(fig, "x", "t")


def test_cache_keys_include_the_font(monkeypatch):
    key = content_key("forest", _rows())
    monkeypatch.setattr(C, "font_identity", lambda: ("DejaVu Sans", "none", "0"))
    assert content_key("forest", _rows()) != key

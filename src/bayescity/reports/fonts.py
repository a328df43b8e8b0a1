"""The fonts the report's figures are drawn with: Latin text in matplotlib's DejaVu Sans, and
Chinese, Japanese and Korean text (trait levels such as 东部/中部/西部, city names) in Noto Sans
CJK SC, which the ``mplfonts`` package ships (the font under the SIL Open Font License).

The font file is registered with matplotlib's font manager (``addfont``) and named as the
fallback of the report's figures only: :func:`figure_fonts` sets ``font.family`` inside a
``matplotlib.rc_context``, so a user's own rcParams are never changed. :func:`font_identity`
(family, file name and the file's SHA-256) enters every figure cache key
(:mod:`.cache`), so a figure drawn with another font (or none) is drawn again.
"""

from __future__ import annotations

import hashlib
import importlib.util
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

#: The CJK font file inside the ``mplfonts`` package.
CJK_FILE = "NotoSansCJKsc-Regular.otf"
#: Its family name (as matplotlib reads it from the file).
CJK_FAMILY = "Noto Sans CJK SC"
#: Latin text first (matplotlib's own font), CJK glyphs from the fallback.
LATIN = "DejaVu Sans"


class FontMissing(RuntimeError):
    """The CJK font that report figures need is not installed."""


@lru_cache(maxsize=1)
def cjk_font_file() -> Path:
    """The path of the Noto Sans CJK SC font shipped by ``mplfonts`` (not imported: only its
    files are read); raise :class:`FontMissing` naming the package when it is absent."""
    spec = importlib.util.find_spec("mplfonts")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / "fonts" / CJK_FILE
        if path.is_file():
            return path
    raise FontMissing(f"the report's CJK font {CJK_FILE} is missing: pip install mplfonts")


@lru_cache(maxsize=1)
def cjk_family() -> str:
    """Register the CJK font with matplotlib (once) and return its family name."""
    from matplotlib import font_manager

    path = cjk_font_file()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


@lru_cache(maxsize=1)
def font_identity() -> tuple[str, str, str]:
    """``(family, file name, SHA-256 of the file)`` of the CJK fallback, for cache keys (read
    without importing matplotlib, so a rerun whose figures are all cached draws nothing)."""
    path = cjk_font_file()
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return CJK_FAMILY, path.name, digest.hexdigest()


def families() -> list[str]:
    """``font.family`` of the report's figures: Latin first, the CJK font as fallback."""
    return [LATIN, cjk_family()]


@contextmanager
def figure_fonts() -> Iterator[None]:
    """Draw the figures created inside with the report's fonts; rcParams restored after."""
    import matplotlib

    with matplotlib.rc_context({"font.family": families()}):
        yield


def missing_glyphs(text: str) -> list[str]:
    """The characters of ``text`` that neither the Latin font nor the CJK fallback has."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    latin = FT2Font(font_manager.findfont(LATIN, fallback_to_default=True)).get_charmap()
    cjk = FT2Font(str(cjk_font_file())).get_charmap()
    return [ch for ch in dict.fromkeys(text)
            if not ch.isspace() and ord(ch) not in latin and ord(ch) not in cjk]


#: The family name report.html gives its embedded CJK font.
WEB_FAMILY = "bayescity CJK"


def _is_cjk(ch: str) -> bool:
    """Characters a Latin system font may lack: CJK ideographs, kana, hangul, CJK punctuation
    and full-width forms."""
    return ord(ch) >= 0x2E80


def font_face(text: str) -> str:
    """A CSS ``@font-face`` embedding the CJK font reduced to the characters of ``text`` that
    need it (a few KB), so the page shows them on a machine without CJK fonts and offline;
    "" when ``text`` has none."""
    chars = "".join(sorted({ch for ch in text if _is_cjk(ch)}))
    if not chars:
        return ""
    return ("@font-face { font-family: '" + WEB_FAMILY + "'; font-display: block; "
            "unicode-range: U+2E80-10FFFF; src: url(data:font/otf;base64,"
            + _subset_base64(chars) + ") format('opentype'); }")


@lru_cache(maxsize=8)
def _subset_base64(chars: str) -> str:
    import base64
    import io

    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(cjk_font_file()), lazy=True)
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = [1, 2]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    return base64.b64encode(buf.getvalue()).decode("ascii")

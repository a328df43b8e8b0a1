"""How the report shows each type of result part (:mod:`bayescity.results.parts`).

:data:`RENDERERS` maps every part type to a function ``(part, anchor, title, figs) -> Block``:
facts become a labelled table, tables a table, a sampler's diagnostics table a table with its
breaches marked, a distribution a figure, text a preformatted block. A test checks that every
part type has a renderer; the section a part appears in comes from its declaration
(:data:`~bayescity.results.parts.DECLARED`), so the report never asks a result which keys it
has.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import pandas as pd

from ..results.effect import EffectResult
from ..results.parts import (DECLARED, Diagnostics, Distribution, Facts, Part, Table, Text)
from . import figures as F
from .blocks import RED, Block, table_block
from .cache import FigureMaker
from .posterior import breach_mask as mask


def fact_text(value: Any) -> str:
    """A fact as text: numbers to 4 significant digits, lists joined, None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (tuple, list)):
        return ", ".join(fact_text(v) for v in value) or "-"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {fact_text(v)}" for k, v in value.items()) or "-"
    return str(value)


def facts_frame(values: Mapping[str, Any], label: str = "") -> pd.DataFrame:
    """Facts as a one-column table indexed by their labels (nested mappings flattened as
    ``key: sub``)."""
    rows: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and value and all(
                not isinstance(v, Mapping) for v in value.values()):
            rows.update({f"{key}: {k}": fact_text(v) for k, v in value.items()})
        else:
            rows[str(key)] = fact_text(value)
    return pd.DataFrame({"value": list(rows.values())},
                        index=pd.Index(list(rows), name=label or None))


def _facts(part: Facts, anchor: str, title: str, figs: FigureMaker) -> Block:
    return table_block(facts_frame(part.values), anchor, title, index=True, facts=True)


def _table(part: Table, anchor: str, title: str, figs: FigureMaker) -> Block:
    frame = part.frame
    named = not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None)
    return table_block(frame.reset_index() if named else frame, anchor, title)


def breach_mask(table: pd.DataFrame) -> pd.DataFrame:
    """True for each cell of a diagnostics table that its ``breach`` column names."""
    return mask(table)


def _diagnostics(part: Diagnostics, anchor: str, title: str, figs: FigureMaker) -> Block:
    table = part.frame
    mask = breach_mask(table)
    styler = table.style.apply(lambda _: mask.replace({True: RED, False: ""}), axis=None)
    return table_block(table, anchor, title, styler=styler)


def _distribution(part: Distribution, anchor: str, title: str, figs: FigureMaker) -> Block:
    draws, observed, p = part.column(part.labels[0])
    return Block("figure", figs(F.placebo_plot, draws, observed, title, p, anchor))


def _text(part: Text, anchor: str, title: str, figs: FigureMaker) -> Block:
    return Block("pre", part.text, title)


Renderer = Callable[[Any, str, str, FigureMaker], Block]
#: How each part type is shown.
RENDERERS: Mapping[type[Part], Renderer] = {Facts: _facts, Table: _table,
                                            Diagnostics: _diagnostics,
                                            Distribution: _distribution, Text: _text}


def render_part(part: Part, anchor: str, title: str, figs: FigureMaker) -> Block:
    """The block of one part (dispatch on its type)."""
    return RENDERERS[type(part)](part, anchor, title, figs)


def label(est_id: str, estimand: str) -> str:
    """``est_id`` for a result's ``ATT``, ``est_id, estimand`` otherwise."""
    return est_id if estimand == "ATT" else f"{est_id}, {estimand}"


def distinct_parts(results: Iterable[EffectResult], name: str
                   ) -> list[tuple[EffectResult, Part]]:
    """The parts named ``name`` of an estimator's results, each distinct one once (the first
    result that carries it)."""
    out: list[tuple[EffectResult, Part]] = []
    for r in results:
        part = r.part(name)
        if part is None:
            continue
        if any(_same(part, seen) for _, seen in out):
            continue
        out.append((r, part))
    return out


def _same(a: Part, b: Part) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, Table):
        return a.frame.equals(b.frame)
    if isinstance(a, Distribution):
        return a.draws.shape == b.draws.shape and bool((a.draws == b.draws).all())
    if isinstance(a, Facts):
        return a.values == b.values
    return a.text == b.text if isinstance(a, Text) else False


def section_blocks(results: Mapping[str, list[EffectResult]], section: str,
                   figs: FigureMaker, skip: Iterable[str] = ()) -> list[Block]:
    """Every part declared for ``section``, per estimator, rendered by its type (``skip``:
    names shown otherwise, e.g. drawn as figures)."""
    blocks, skip = [], set(skip)
    for name, spec in DECLARED.items():
        if spec.section != section or name in skip:
            continue
        for est_id, group in results.items():
            for r, part in distinct_parts(group, name):
                anchor = f"{name}-{est_id}-{r.estimand}".replace("_", "-")
                blocks.append(render_part(part, anchor, f"{spec.title} ({label(est_id, r.estimand)})",
                                          figs))
    return blocks

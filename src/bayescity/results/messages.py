"""The warnings and notes of a run, as the CLI prints them and the report lists them.

A result's warnings (:attr:`EffectResult.warnings`: problems a user must act on or that make
the numbers less trustworthy) and notes (:attr:`EffectResult.notes`: facts about how they were
made) are collected per estimator; the terms that rest on fewer than
:data:`~bayescity.constants.MIN_TREATED_UNITS` treated units add one warning per estimator. A
sentence that several estimators report is listed once, after the ids of all of them, in the
order the run produced them.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from ..constants import MIN_TREATED_UNITS
from .effect import EffectResult

Results = Mapping[str, Iterable[EffectResult]]


def thin_terms_warning(results: Iterable[EffectResult]) -> str | None:
    """One estimator's terms that rest on fewer than two treated units, in one sentence."""
    thin = [f"{r.estimand} {', '.join(terms)}" for r in results if (terms := r.thin_terms())]
    if not thin:
        return None
    return (f"terms resting on fewer than {MIN_TREATED_UNITS} treated units (n_treated marked "
            f"!): {'; '.join(thin)}")


def grouped(pairs: Iterable[tuple[str, str]]) -> list[tuple[list[str], str]]:
    """``(estimator ids, sentence)`` per distinct sentence, in order of first appearance."""
    who: dict[str, list[str]] = {}
    for est_id, sentence in pairs:
        ids = who.setdefault(sentence, [])
        if est_id not in ids:
            ids.append(est_id)
    return [(ids, sentence) for sentence, ids in who.items()]


def run_warnings(results: Results) -> list[tuple[list[str], str]]:
    """Every distinct warning of a run (each estimator's, then its thin-terms sentence)."""
    pairs = []
    for est_id, group in results.items():
        group = list(group)
        pairs += [(est_id, w) for r in group for w in r.warnings]
        thin = thin_terms_warning(group)
        pairs += [(est_id, thin)] if thin else []
    return grouped(pairs)


def run_notes(results: Results) -> list[tuple[list[str], str]]:
    """Every distinct note of a run."""
    return grouped((est_id, n) for est_id, group in results.items() for r in group
                   for n in r.notes)


def lines(messages: Iterable[tuple[list[str], str]]) -> list[str]:
    """``"id1, id2: sentence"`` per message."""
    return [f"{', '.join(ids)}: {sentence}" for ids, sentence in messages]

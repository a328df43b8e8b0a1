"""Seeds: every random stream of an estimator is a child of its ``random_state``.

No global seed is ever set; children come from ``SeedSequence`` spawn keys, so fitting twice
with the same ``random_state`` gives the same numbers.
"""

from __future__ import annotations

import numpy as np

RandomState = int | np.random.SeedSequence | np.random.Generator | None


def seed_sequence(random_state: RandomState) -> np.random.SeedSequence:
    """A SeedSequence from an int, a SeedSequence (returned as is) or None (fresh entropy)."""
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    return np.random.SeedSequence(random_state)


def child_seeds(random_state: RandomState, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent child seeds, the same on every call (the parent is not advanced).

    ``SeedSequence.spawn`` mutates its parent, so fitting twice with one SeedSequence would
    give different numbers; the children here are derived from the spawn key instead.
    """
    parent = seed_sequence(random_state)
    return [np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, i),
                                   pool_size=parent.pool_size) for i in range(n)]


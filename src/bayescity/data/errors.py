"""The one error type raised for malformed panel data, and the problems it collects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: which column(s), what, and the first offending rows.

    ``rows`` are 1-based data-row numbers as they appear in the file (the header is not counted).
    ``column`` in angle brackets (``<file>``, ``<sheet>``, ``<source>``, ``<arguments>``) names
    something other than a column.
    """

    column: str
    message: str
    rows: tuple[int, ...] = ()
    n_rows: int = 0

    def __str__(self) -> str:
        pseudo = self.column.startswith("<") and self.column.endswith(">")
        text = f"{self.column[1:-1]}: {self.message}" if pseudo else \
            f"column {self.column!r}: {self.message}"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:MAX_ROWS_SHOWN])
            more = f" (and {self.n_rows - MAX_ROWS_SHOWN} more)" if self.n_rows > MAX_ROWS_SHOWN else ""
            text += f" at rows {shown}{more}"
        return text


@dataclass
class PanelError(ValueError):
    """Raised once per load with every problem found in the panel data."""

    source: str
    problems: Sequence[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"invalid panel data in {self.source!r} ({n} problem{'s' if n != 1 else ''}):"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])

    @property
    def columns(self) -> list[str]:
        """The columns named by the problems, in order."""
        return [p.column for p in self.problems]


def problem_at(column: str, message: str, positions: Sequence[int]) -> Problem:
    """Build a :class:`Problem` from 0-based row positions."""
    rows = tuple(int(p) + 1 for p in positions[:MAX_ROWS_SHOWN])
    return Problem(column=column, message=message, rows=rows, n_rows=len(positions))

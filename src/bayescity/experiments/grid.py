"""Grid keys: a dotted path into a config mapping (``seed``, ``data.outcome``,
``estimators.<id>.params.<name>[.<key>]``), shared by ``sweep: grid:`` (checked when the
config is read) and ``bayescity sweep --grid``."""

from __future__ import annotations

from typing import Any

from .errors import GridError

__all__ = ["GridError", "cell", "set_path"]


def set_path(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` (dotted path; ``estimators.<id>`` selects by id, an id with dots included)
    in the config mapping."""
    parts = key.split(".")
    node: Any = raw
    depth = 0
    while depth < len(parts) - 1:
        part = parts[depth]
        if isinstance(node, list):
            node, depth = _by_id(node, parts, depth, key)
            continue
        if not isinstance(node, dict):
            raise GridError(f"grid key {key!r}: {'.'.join(parts[:depth])!r} is not a mapping")
        nested = depth > 0 and parts[0] == "estimators"
        if part not in node and not nested:
            raise GridError(f"grid key {key!r}: the config has no {'.'.join(parts[:depth + 1])!r}")
        node = node.setdefault(part, {})
        depth += 1
    if not isinstance(node, dict):
        raise GridError(f"grid key {key!r}: {'.'.join(parts[:-1])!r} is not a mapping")
    node[parts[-1]] = value


def _by_id(entries: list, parts: list[str], depth: int, key: str) -> tuple[dict, int]:
    """The entry whose id is the longest run of ``parts`` from ``depth`` (ids may hold dots)
    with a key left after it, and the depth after the id."""
    by_id = {e.get("id"): e for e in entries if isinstance(e, dict)}
    for end in range(len(parts) - 1, depth, -1):
        if ".".join(parts[depth:end]) in by_id:
            return by_id[".".join(parts[depth:end])], end
    raise GridError(f"grid key {key!r}: no estimator with id {parts[depth]!r}; "
                    f"ids: {list(by_id)}")


def cell(value: Any) -> Any:
    """A grid value as a table cell or YAML scalar (lists and mappings as text)."""
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)

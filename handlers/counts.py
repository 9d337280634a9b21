"""A number with its noun, singular or plural as English needs: "1 case", "2 cases"."""

from __future__ import annotations


def count(n: int, one: str, many: str | None = None) -> str:
    """`n` and the noun: `one` for exactly 1 (or -1), else `many` (default: `one` + "s")."""
    return f"{n} {one if abs(n) == 1 else (many if many is not None else one + 's')}"

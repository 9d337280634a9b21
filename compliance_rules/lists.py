"""Named word lists in patterns: a long list of names (every marketed drug) written once as
`\\L<name>`, which the `regex` engine matches as a set instead of compiling an alternation
of hundreds of words into every pattern that names it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

import regex

_LISTS: dict[str, tuple[str, ...]] = {}
_CODES: dict[str, int] = {}  # a list's stand-in character, for reading literals
_NAMES: dict[int, str] = {}  # and back
_REFERENCE = re.compile(r"\\L<(\w+)>")
# Stand-ins are characters of a private-use plane no pattern or text uses.
FIRST_STAND_IN = 0xF0000


def named(words: Iterable[str], label: str) -> str:
    """`\\L<...>` standing for `words` (matched whole, case as the pattern says), under a
    name made from `label` and the words themselves, so two different lists never clash."""
    items = tuple(sorted({w for w in words if w}))
    if not items:
        return "(?!x)x"
    digest = hashlib.sha256("\n".join(items).encode()).hexdigest()[:10]
    name = f"{label}_{digest}"
    if name not in _LISTS:
        _LISTS[name] = items
        _CODES[name] = FIRST_STAND_IN + len(_CODES)
        _NAMES[_CODES[name]] = name
    return rf"\L<{name}>"


def lists_in(source: str) -> dict[str, tuple[str, ...]]:
    """The named lists `source` refers to, as `regex.compile` takes them."""
    if "\\L<" not in source:
        return {}
    return {name: _LISTS[name] for name in _REFERENCE.findall(source) if name in _LISTS}


def compile_pattern(source: str, flags: int) -> regex.Pattern[str]:
    """`source` compiled by `regex` (VERSION0), with the named lists it refers to."""
    named_lists: dict[str, Any] = lists_in(source)
    return regex.compile(source, flags | regex.VERSION0, **named_lists)


def stand_ins(source: str) -> str:
    """`source` with each named list replaced by its one-character stand-in, for reading the
    literals of a pattern with `re`'s parser (which knows no `\\L<...>`)."""
    if "\\L<" not in source:
        return source
    return _REFERENCE.sub(
        lambda m: chr(_CODES[m.group(1)]) if m.group(1) in _CODES else m.group(0), source
    )


def words_of(code: int) -> tuple[str, ...] | None:
    """The words a stand-in character stands for; None for any other character."""
    name = _NAMES.get(code)
    return None if name is None else _LISTS[name]

"""Texts and literals case folded the way the scans read them, one character for one."""

from __future__ import annotations

import re
import string
import unicodedata

import regex

_CASE_BLIND = regex.IGNORECASE | regex.VERSION0


class _Fold(dict[int, int]):
    """A `str.translate` table: each character to one that stands for every character a
    case-blind match takes it for (`K`, the Kelvin sign, and `k` all become `k`), and each
    digit to its ASCII digit.

    Every character stays one character, so offsets into the folded text hold. Filled in
    as characters are met.
    """

    def __missing__(self, code: int) -> int:
        folded = ord(_fold_char(chr(code)))
        self[code] = folded
        return folded


def _fold_char(ch: str) -> str:
    if ch.isdecimal():
        return str(unicodedata.decimal(ch))
    # Both engines are asked: packs use `regex`, the product registry `re`.
    for letter in string.ascii_lowercase:
        if regex.fullmatch(letter, ch, _CASE_BLIND) or re.fullmatch(letter, ch, re.IGNORECASE):
            return letter
    for other in (ch.casefold(), ch.lower()):
        if len(other) == 1:
            return other
    return ch


FOLD = _Fold({code: ord(chr(code).lower()) for code in range(128)})


def fold(text: str) -> str:
    """`text` as the scans read it: case folded, every character where it was."""
    return text.lower() if text.isascii() else text.translate(FOLD)


def folded(literals: frozenset[str] | None) -> frozenset[str] | None:
    """Literals (lower case, as `start_literals` reads them) as the scans report them."""
    return None if literals is None else frozenset(g.translate(FOLD) for g in literals)

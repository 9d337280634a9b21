"""Undo the ways a text can hide words from the rules, remembering where each letter was.

Unicode NFKC (full-width and mathematical letters, ligatures); default-ignorable and format
characters dropped (soft hyphen, zero-width characters, word joiner, BOM, bidi controls,
variation selectors); floods of combining marks cut to two per letter; letters of another
script that look like Latin ones, inside a Latin word, replaced by their Latin prototype
(Unicode TS #39's confusables data, as shipped by `confusable_homoglyphs`); spaced-out or
dotted letters joined ("c u r e s", "s.a.f.e.s.t"), and Japanese or Chinese characters
spaced apart ("ゴ ミ"); katakana "v" syllables read as the "b" ones names are usually written
with (ヴェ as ベ); digits and symbols standing for letters inside a word ("b3st",
"0ff-label") read as letters. The rules then read this text too, and
each finding still points at the original.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import re
import time
import unicodedata
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources

from compliance_rules.normalise import Normalised

# Characters that change nothing a reader sees but split a word for a pattern.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001bca0-\U0001bca3\U000e0000-\U000e0fff]"
)
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
# A word with a digit or symbol between letters, or starting one: "b3st", "0ff", "a$$".
_LEETY = re.compile(
    r"(?<![\w@$])[a-z]*[a-z][0134579@$!]+[a-z](?:[0134579@$!]*[a-z])*"  # b3st, d1v1dend
    r"|(?<![\w@$])[0134579][a-z]{2}"  # 0ff
    r"|(?<![\w@$])[a-z]{2,}[0134579$]+(?![\w@$])"  # cur3
    r"|(?<![\w@$])n0(?![\w@$])",  # n0 (no)
    re.IGNORECASE,
)
# Three or more single letters with the same separator between each: "c u r e", "s.a.f.e",
# "c-u-r-e", "c. u. r. e", also quoted ("'h a r m l e s s'"). A letter of an elided word
# ("l'", "she's") is not one of them.
_SPACED = re.compile(
    r"(?<![^\W_])(?<![^\W_]['\u2019])[^\W\d_](?P<sep>[ .\-_*·•]) ?[^\W\d_]"
    r"(?:(?P=sep) ?[^\W\d_])+(?![^\W_])(?!['\u2019][^\W_])"
)
# A word cut by dots into pieces of one or two letters, most of them one: "Qu.a.d.d.e.l.n",
# "sa.f.e". (Abbreviations such as "e.g." or "U.S.A." are joined too, which no rule minds.)
_DOTTED = re.compile(
    r"(?<![\w.])(?=(?:[^\W\d_]{1,2}[.·•]){2})[^\W\d_]{1,2}(?:[.·•][^\W\d_]{1,2}){2,}(?![\w])"
)
# Single Japanese or Chinese characters with spaces between them: "ゴ ミ", "垃 圾" (the
# scripts put no spaces between the characters of a word).
_CJK = "\u3041-\u3096\u30a1-\u30fa\u30fc\u4e00-\u9fff"
_SPACED_CJK = re.compile(f"(?<![{_CJK}])[{_CJK}](?:[ \u3000][{_CJK}])+(?![{_CJK}])")
# Katakana "v" syllables, read as the "b" ones names are usually written with: ヴェ as ベ.
_VU = re.compile("\u30f4[\u30a1\u30a3\u30a7\u30a9]?")
_VU_AS = {"": "ブ", "\u30a1": "バ", "\u30a3": "ビ", "\u30a7": "ベ", "\u30a9": "ボ"}
# An e-mail address: its "@" is not a letter standing for "a".
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DIGITISH = re.compile(r"[0134579@$!]")
# What every leet word has: such a digit or sign next to a letter (much cheaper to look for
# than the words themselves, which a run of letters makes `_LEETY` try again and again).
_LEET_NEAR = re.compile(r"[a-z][0134579@$!]|[0134579][a-z]", re.IGNORECASE)
_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]{2}")
_MAX_MARKS = 2


@cache
def _prototypes() -> dict[str, str]:
    """Each non-ASCII letter that Unicode lists as confusable with one ASCII letter or digit,
    and that letter (the TS #39 prototype, as far as a single Latin character is one)."""
    data = json.loads(
        resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    )
    table: dict[str, str] = {}
    for char, similar in data.items():
        if len(char) != 1 or char.isascii() or not char.isalpha():
            continue
        for entry in similar:
            glyph = entry.get("c", "")
            if len(glyph) == 1 and glyph.isascii() and glyph.isalnum():
                table[char] = glyph.lower() if glyph.isalpha() else _LEET.get(glyph, glyph)
                break
    # A small letter Unicode lists with no Latin look-alike whose capital has one reads as
    # that letter too: Greek small epsilon as "e", as its capital is "E" ("gr\u03b5atest").
    for char in {c.lower() for c in table if len(c.lower()) == 1} - set(table):
        if not char.isascii() and char.upper() in table:
            table[char] = table[char.upper()]
    return table


@cache
def _lookalikes() -> frozenset[str]:
    """The letters that have a Latin prototype (a set: a regex class of thousands of
    letters, many outside the basic plane, is read one by one for every character)."""
    return frozenset(_prototypes())


def warm() -> None:
    """Load Unicode's confusables table now (a fraction of a second, once)."""
    _lookalikes()


def suspicious(text: str) -> bool:
    """Whether `text` may hide a word (cheap: most kudos are plain text and are not; dashes,
    curly quotes, emoji and accented letters are no reason to read a text twice)."""
    if "*" in text:
        return True
    if not text.isascii() and (
        "\u30f4" in text
        or _SPACED_CJK.search(text)
        or _IGNORABLE.search(text)
        or _MARKS.search(text)
        or not unicodedata.is_normalized("NFKC", text)
        or not _lookalikes().isdisjoint(text)
    ):
        return True
    if _DIGITISH.search(text) and _LEET_NEAR.search(text) and _LEETY.search(text):
        return True
    return _SPACED.search(text) is not None or _DOTTED.search(text) is not None


def unevade(norm: Normalised, deadline: float = math.inf) -> Normalised | None:
    """`norm` with its evasions undone, mapped to the same original; None when nothing
    changed (then the rules need not read the text twice). TimeoutError once the
    `time.monotonic()` deadline has passed (between steps, and every 256 words read)."""
    text = norm.text
    if not suspicious(text):
        return None
    chars, starts, ends = _characters(norm)
    _latin_lookalikes(chars)
    _in_time(deadline)
    folded, starts, ends = _joined("".join(chars), starts, ends, _DOTTED)
    folded, starts, ends = _joined(folded, starts, ends, _SPACED)
    if not folded.isascii():
        folded, starts, ends = _joined(folded, starts, ends, _SPACED_CJK)
        folded, starts, ends = _read_vu(folded, starts, ends)
    _in_time(deadline)
    if _DIGITISH.search(folded):
        mails = [m.span() for m in _EMAIL.finditer(folded)] if "@" in folded else []
        read = itertools.count()

        def letters(m: re.Match[str]) -> str:
            if next(read) % 256 == 255:
                _in_time(deadline)
            return _read_letters(m, mails)

        folded = _LEETY.sub(letters, folded)
    if folded == text:
        return None
    return Normalised(folded, tuple(starts), tuple(ends))


def _in_time(deadline: float) -> None:
    if time.monotonic() >= deadline:
        raise TimeoutError("out of time")


def _characters(norm: Normalised) -> tuple[list[str], list[int], list[int]]:
    """One entry per character after NFKC, without ignorables and mark floods."""
    text = norm.text
    if text.isascii() or (
        not (_IGNORABLE.search(text) or _MARKS.search(text))
        and unicodedata.is_normalized("NFKC", text)
    ):
        return list(text), list(norm.starts), list(norm.ends)
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    marks = 0
    for i, char in enumerate(text):
        if _IGNORABLE.match(char):
            continue
        if unicodedata.category(char) in ("Mn", "Me"):
            marks += 1
            if marks > _MAX_MARKS:
                continue
        else:
            marks = 0
        kept = char if char.isascii() else unicodedata.normalize("NFKC", char)
        for piece in kept:
            chars.append(piece)
            starts.append(norm.starts[i])
            ends.append(norm.ends[i])
    return chars, starts, ends


_WORD = re.compile(r"[^\W_]+")
_ASCII_LETTERS = re.compile(r"[A-Za-z]")


def _latin_lookalikes(chars: list[str]) -> None:
    """In a word with Latin letters, or one made only of letters that look Latin in a
    mostly Latin text, replace each look-alike by its Latin letter (in place)."""
    text = "".join(chars)
    table = _prototypes()
    latin = len(_ASCII_LETTERS.findall(text))
    letters = sum(map(str.isalpha, text)) or 1
    mostly_latin = latin / letters >= 0.5
    for word in _WORD.finditer(text):
        piece = word.group()
        if piece.isascii():
            continue
        has_latin = any(c.isascii() for c in piece)
        every_one = all(c.isascii() or c in table for c in piece)
        if has_latin or (mostly_latin and every_one):
            for offset, c in enumerate(piece):
                if not c.isascii() and c in table:
                    chars[word.start() + offset] = table[c]


Read = tuple[str, list[int], list[int]]  # a text, and where each character came from


def _rewritten(
    text: str,
    starts: list[int],
    ends: list[int],
    found: Iterable[re.Match[str]],
    read: Callable[[re.Match[str]], list[tuple[str, int, int]]],
) -> Read:
    """`text` with each match in `found` (in order, not overlapping) replaced by what
    `read` makes of it: characters, each with the span of the original it stands for."""
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    pos = 0
    for m in found:
        out.append(text[pos : m.start()])
        new_starts += starts[pos : m.start()]
        new_ends += ends[pos : m.start()]
        for char, start, end in read(m):
            out.append(char)
            new_starts.append(start)
            new_ends.append(end)
        pos = m.end()
    out.append(text[pos:])
    new_starts += starts[pos:]
    new_ends += ends[pos:]
    return "".join(out), new_starts, new_ends


def _joined(text: str, starts: list[int], ends: list[int], pieces: re.Pattern[str]) -> Read:
    """Letters cut apart (spaced out, dotted: a match of `pieces`) joined into the word
    they spell."""
    found = [m for m in pieces.finditer(text) if _mostly_single(m.group())]
    if not found:
        return text, starts, ends

    def letters(m: re.Match[str]) -> list[tuple[str, int, int]]:
        span = range(m.start(), m.end())
        return [(text[i], starts[i], ends[i]) for i in span if text[i].isalpha()]

    return _rewritten(text, starts, ends, found, letters)


def _read_vu(text: str, starts: list[int], ends: list[int]) -> Read:
    """Katakana "v" syllables as the "b" ones (ヴェ as ベ), each still pointing at what it
    was read from."""
    if "\u30f4" not in text:
        return text, starts, ends

    def as_b(m: re.Match[str]) -> list[tuple[str, int, int]]:
        return [(_VU_AS[m.group()[1:]], starts[m.start()], ends[m.end() - 1])]

    return _rewritten(text, starts, ends, _VU.finditer(text), as_b)


def _mostly_single(word: str) -> bool:
    """Whether most pieces of a cut-up word are single letters (a dotted run of two-letter
    pieces is more likely a code than a word taken apart)."""
    pieces = _WORD.findall(word)
    return sum(len(p) == 1 for p in pieces) * 2 > len(pieces)


def _read_letters(m: re.Match[str], mails: list[tuple[int, int]]) -> str:
    """A leet word read as letters, one character for one (so offsets stay put); a code in
    mixed case (HbA1c, mRNA2) or a piece of an e-mail address is left as it is."""
    word = m.group()
    if any(c.isupper() for c in word[1:]) and any(c.islower() for c in word):
        return word
    # Mails are in order and do not overlap: only the last starting before this word's end
    # can overlap it.
    k = bisect.bisect_left(mails, (m.end(), -1)) - 1
    if k >= 0 and m.start() < mails[k][1]:
        return word
    return "".join(_LEET.get(c, c) for c in word)

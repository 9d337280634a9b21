"""The literals a pattern's matches must contain or start with, read from its regex: what the
rule set's one-pass scan gates and anchors each pattern on."""

from __future__ import annotations

import re
import string
import warnings
from functools import lru_cache
from re import _constants as _c  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any, Protocol

import regex

from compliance_rules.derived import shipped
from compliance_rules.lists import stand_ins, words_of


class Source(Protocol):
    """A pattern's source and flags (a compiled regex, or one compiled when first used)."""

    @property
    def pattern(self) -> str: ...

    @property
    def flags(self) -> int: ...


def literal_gate(pattern: Source) -> frozenset[str] | None:
    """Literals (2+ characters, or a rare sign like "@") one of which is in every match.

    A text containing none of them (lower-cased) cannot match, so the rule is skipped.
    They are the first literal run of the match, after any leading part (a character
    class, an assertion) no literal can be read from. One that starts with WORD_START
    (`\bbest`) is in the text at the start of a word.
    """
    return _literal_gate(pattern.pattern, pattern.flags & regex.IGNORECASE)


@lru_cache(maxsize=8192)
@shipped("gate")
def _literal_gate(source: str, flags: int) -> frozenset[str] | None:
    # Literals are compared lower-cased with the lower-cased text, which is right for a
    # case-blind pattern and still a safe test for a case-sensitive one.
    tree = _parse(source, flags)
    if tree is None:
        return None
    found = _prefixes(list(tree), 6)
    if found is None or not _usable(found):
        return None
    return frozenset(p.lower() for p in found)


def start_literals(pattern: Source) -> frozenset[str] | None:
    """Lower-case literals one of which every match of `pattern` starts with, as in
    `literal_gate`; None when they cannot be told or some match may be empty.

    A match can then only start where one of them is in the text: the places to try it.
    """
    return _start_literals(pattern.pattern, pattern.flags & regex.IGNORECASE)


@lru_cache(maxsize=8192)
@shipped("start")
def _start_literals(source: str, flags: int) -> frozenset[str] | None:
    tree = _parse(source, flags)
    if tree is None or tree.getwidth()[0] == 0:
        return None
    found = _prefixes(list(tree), 6, anchored=True)
    if found is None or not _usable(found, digits=True):
        return None
    return frozenset(p.lower() for p in found)


_STEPS = 20_000  # how much work one pattern's literals may take to find
# Literals of an alternation, at most: a set of hundreds (a list of drug names, say) still
# makes a pattern tried only where one of them is, rather than searched for everywhere.
_WIDEST = 2_000
# Assertions take up no text: a literal after them still starts the match.
_ZERO_WIDTH = (_c.AT, _c.ASSERT, _c.ASSERT_NOT)


_RARE_CHARS = frozenset("@$#%&~^|<>€£")  # one of these alone is a literal worth testing
_DIGITS = frozenset(string.digits)
WORD_START = "\x00"  # marks a literal that only counts at the start of a word
_WORD = re.compile(r"\w", re.ASCII)


def _usable(found: set[str] | None, digits: bool = False) -> bool:
    """A literal set worth testing: every literal two characters or more, or a rare sign
    (or, with `digits`, a digit)."""
    if not found:
        return False
    return all(
        len(q) >= 2 or q in _RARE_CHARS or (digits and q in _DIGITS)
        for q in (p.lstrip(WORD_START) for p in found)
    )


def _prefixes(
    items: list[Any],
    budget: int,
    start: bool = True,
    steps: list[int] | None = None,
    word_start: bool = False,
    anchored: bool = False,
) -> set[str] | None:
    """Literal texts (up to `budget` characters) one of which is in every match of `items`.

    Each is a contiguous run; `start` says nothing comes before it, which lets an optional
    part be passed over (what follows it is in the match either way). An empty string means
    "nothing certain from here on"; None means "cannot tell".

    At the start, an item no usable literal can be read from (a character class, an
    assertion, a one-letter word) is passed over too: whatever follows it is in every
    match as well. `word_start` says a word boundary (`\b`) comes right before, at the start.
    `anchored` asks for literals every match starts with instead: nothing is passed over
    but zero-width assertions.
    """
    steps = [0] if steps is None else steps
    steps[0] += 1
    if steps[0] > _STEPS:
        return None
    found = _prefixes_here(items, budget, start, steps, word_start, anchored)
    if start and not anchored and not _usable(found):
        index = 0
        while index < len(items) and items[index][0] is _c.AT:
            index += 1
        if index < len(items):
            after = _prefixes(items[index + 1 :], budget, True, steps)
            if _usable(after):
                return after
    return found


def _prefixes_here(
    items: list[Any], budget: int, start: bool, steps: list[int], word_start: bool, anchored: bool
) -> set[str] | None:
    index, word_start = _past_assertions(items, start, word_start, anchored)
    if index == len(items) or budget == 0:
        return {""}
    op, arg = items[index]
    rest = items[index + 1 :]

    def mark(first: str) -> str:  # a word character right after `\b` starts a word
        return WORD_START + first if start and word_start and _WORD.match(first) else first

    if op is _c.LITERAL:
        if (words := words_of(arg)) is not None:  # a named list's stand-in
            return _listed(words, rest, budget, steps, mark)
        tail = _prefixes(rest, budget - 1, False, steps)
        return None if tail is None else {mark(chr(arg)) + t for t in tail}
    if op is _c.SUBPATTERN:
        return _prefixes(list(arg[3]) + rest, budget, start, steps, word_start, anchored)
    if op is _c.BRANCH:
        found: set[str] = set()
        for branch in arg[1]:
            sub = _prefixes(list(branch) + rest, budget, start, steps, word_start, anchored)
            if sub is None:
                return None
            found |= sub
        return found if len(found) <= _WIDEST else None
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        # Repeated more than once, what follows a copy may be another copy, not `rest`:
        # only one copy's literals are certain ("f" then "*{2,}": "f*", not "f*ing").
        once = _prefixes(
            list(arg[2]) + (rest if arg[1] == 1 else []),
            budget,
            start,
            steps,
            word_start,
            anchored,
        )
        if arg[0] >= 1 or once is None:
            return once
        skipped = _prefixes(rest, budget, start, steps, word_start, anchored)
        if skipped is None:
            return None
        if start and not anchored and _usable(skipped):
            # What follows is in every match, but only starts a word when this part is
            # left out: so it counts anywhere.
            return _prefixes(rest, budget, start, steps) if word_start else skipped
        return once | skipped
    if anchored and start and arg == [(_c.CATEGORY, _c.CATEGORY_DIGIT)]:
        # A leading digit: digits are rare enough in chat to be the places to try.
        tail = _prefixes(rest, budget - 1, False, steps)
        return None if tail is None else {mark(d) + t for d in string.digits for t in tail}
    if op is _c.IN and 0 < len(arg) <= 6 and all(kind is _c.LITERAL for kind, _ in arg):
        # A small set of characters, e.g. [Pp] or [i1!*]: one prefix per character.
        tail = _prefixes(rest, budget - 1, False, steps)
        if tail is None:
            return None
        return {mark(chr(code)) + t for _, code in arg for t in tail}
    return {""}


def _past_assertions(
    items: list[Any], start: bool, word_start: bool, anchored: bool
) -> tuple[int, bool]:
    """Where the first item that takes up text is, past the assertions before it, and
    whether a word starts there."""
    index = 0
    zero_width = _ZERO_WIDTH if anchored and start else (_c.AT,)
    while index < len(items) and items[index][0] in zero_width:
        word_start = word_start or (start and items[index][1] is _c.AT_BOUNDARY)
        word_start = word_start or (anchored and start and _not_after_word(items[index]))
        index += 1
    return index, word_start


def _listed(
    words: tuple[str, ...], rest: list[Any], budget: int, steps: list[int], mark: Any
) -> set[str] | None:
    """The prefixes of a named list's words (each up to `budget` characters, then what
    follows the list for a shorter word)."""
    found: set[str] = set()
    for word in words:
        if len(word) >= budget:
            found.add(mark(word[0]) + word[1:budget])
            continue
        tail = _prefixes(rest, budget - len(word), False, steps)
        if tail is None:
            return None
        found |= {mark(word[0]) + word[1:] + t for t in tail}
    return found


def parsed(pattern: Source) -> Any:
    """`pattern` parsed as `re` reads it (named lists as stand-ins), or None."""
    return _parse(pattern.pattern, pattern.flags & regex.IGNORECASE)


def may_match_empty(pattern: Source) -> bool:
    """Whether `pattern` may match an empty string (True when that cannot be told)."""
    return _may_match_empty(pattern.pattern, pattern.flags & regex.IGNORECASE)


@lru_cache(maxsize=8192)
@shipped("empty")
def _may_match_empty(source: str, flags: int) -> bool:
    tree = _parse(source, flags)
    return tree is None or bool(tree.getwidth()[0] == 0)


def clear_caches() -> None:
    """Forget what was read of every regex (for `derived.derive`, which reads them all)."""
    for fn in (_literal_gate, _start_literals, _may_match_empty, _parse):
        fn.cache_clear()


def _not_after_word(item: tuple[Any, Any]) -> bool:
    r"""Whether `item` is a lookbehind like `(?<![\w-])`: no word character comes before."""
    op, arg = item
    if op is not _c.ASSERT_NOT or arg[0] != -1 or len(arg[1]) != 1:
        return False
    kind, members = arg[1][0]
    return kind is _c.IN and (_c.CATEGORY, _c.CATEGORY_WORD) in members


@lru_cache(maxsize=8192)
def _parse(source: str, flags: int) -> Any:
    """`source` parsed as `re` reads it, or None; `re` warning of a reading it may change
    (a possible nested set, which `regex` can read differently) counts as None too."""
    # Only `re`'s own FutureWarning is raised: a collector's warning (an unclosed file or
    # database finalised mid-parse) keeps the filters it had.
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        try:
            return _parser.parse(stand_ins(source), flags)
        except (re.error, RecursionError, FutureWarning):
            return None

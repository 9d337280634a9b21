"""What every match of a pattern needs somewhere in the text, read from its regex: sets of
literals, one of each in any text the pattern matches in, so that a text without one is
known not to match before the pattern is ever tried.

Read in one pass over the parsed regex, as a prefilter is: each part either matches one of
a few known strings (`exact`), or needs what its own parts need.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from re import _constants as _c  # type: ignore[attr-defined]
from typing import Any, NamedTuple, TypeGuard

import regex

from compliance_rules.derived import shipped
from compliance_rules.language import COMMON_WORDS
from compliance_rules.lists import FIRST_STAND_IN, words_of
from compliance_rules.literals import WORD_START, Source, parsed

Needs = tuple[frozenset[str], ...]
_MOST_STRINGS = 24  # an exact set grows no larger (then it becomes a need)
_LONGEST = 8  # nor its strings longer
_LONG = 5  # a literal this long is worth looking for anywhere, not only at a word's start
_WIDEST_NEED = 1000  # an alternation's joined need holds no more literals
_MOST_NEEDS = 2  # of those with several letters (each adds literals to the scan)
_MOST_CHAR_NEEDS = 2  # of those of single characters (free to test)
_DIGITS = frozenset(string.digits)  # a folded text has every decimal digit as its ASCII one
# Words most texts have: a literal in one of them rules out too few texts to scan for.
_COMMON_TEXT = " " + " ".join(sorted(COMMON_WORDS)) + " "
_COMMON_CHARS = frozenset(string.ascii_lowercase) - frozenset("jkqxz") | frozenset(" .,'")
_WORD_CHAR = re.compile(r"[a-z0-9_]")  # as the scan tells the start of a word
_NOT_WORD = frozenset({_c.CATEGORY_SPACE, _c.CATEGORY_NOT_WORD})
# Braces that are not a count (`{2}`, `{1,3}`): `regex` may read them as fuzzy matching
# (`{e<=1}`), which `re`'s parser would take for literal text.
_BRACES = re.compile(r"\{(?!\d*(?:,\d*)?\})")
_SIGNS = "".join(c for c in map(chr, range(1, 128)) if not (c.isalnum() or c == "_"))


class _Source(NamedTuple):
    pattern: str
    flags: int


class _Info(NamedTuple):
    exact: frozenset[str] | None  # every string (lower case) the part matches, if few
    needs: Needs
    # Whether a word character right after the part starts a word, when one right before
    # it would not, and when it would (`\s+` makes it so; `x` undoes it; `(?=y)` keeps it).
    ends: tuple[bool, bool] = (False, False)


_KEEPS = (False, True)
_STARTS = (True, True)
_UNKNOWN = _Info(None, ())
_EMPTY = frozenset({""})


def needs(pattern: Source, anywhere: bool = False) -> Needs:
    """Sets of lower-case literals (WORD_START-marked: at the start of a word), one of each
    in every text `pattern` matches in: the rarest-looking few, none found in most texts;
    failing those, the one cheapest to look for. `anywhere`: long literals that may start
    inside a word count too (worth scanning for, for a pattern searched for everywhere)."""
    return _needs(pattern.pattern, pattern.flags & regex.IGNORECASE, anywhere)


def clear_caches() -> None:
    """Forget what was read of each pattern (for `derived.derive`)."""
    _needs.cache_clear()


@lru_cache(maxsize=8192)
@shipped("needs")
def _needs(source: str, flags: int, anywhere: bool) -> Needs:
    tree = parsed(_Source(source, flags))
    if tree is None or _BRACES.search(source):
        return ()
    info = _sequence(tree.data, False)
    every = [n for n in map(_marked, (*info.needs, info.exact)) if n is not None and _usable(n)]
    found = {n for n in every if strong(n, anywhere)}
    words = sorted((n for n in found if not _chars(n)), key=_ranked)
    chars = sorted((n for n in found if _chars(n)), key=_ranked)
    if found:
        return (*_rarest(words, _MOST_NEEDS), *_rarest(chars, _MOST_CHAR_NEEDS))
    return tuple(sorted((n for n in every if _cheap(n, anywhere)), key=_ranked)[:1])


def _ranked(one_of: frozenset[str]) -> tuple[tuple[float, int], list[str]]:
    """Rarest first; equally rare sets in the order of their literals, so that the same
    pattern needs the same literals in every process (a set's own order varies)."""
    return rarity(one_of), sorted(one_of)


@lru_cache(maxsize=65536)
def common(one_of: frozenset[str]) -> bool:
    """Whether most texts are likely to hold one of these literals: a common letter, a
    short piece of a word, or a piece of a common word."""
    for literal in one_of:
        word = literal.lstrip(WORD_START)
        if len(word) == 1:
            if word in _COMMON_CHARS:
                return True
            continue
        if word == literal and (len(word) < 3 or word in _COMMON_TEXT):
            return True
        if word != literal and " " + word in _COMMON_TEXT:
            return True
    return False


def strong(one_of: frozenset[str], anywhere: bool = False) -> bool:
    """Whether a set of literals is a need worth having: none empty, none common, each
    cheap to scan for (see `_cheap`)."""
    return _usable(one_of) and not common(one_of) and _cheap(one_of, anywhere)


def _cheap(one_of: frozenset[str], anywhere: bool = True) -> bool:
    """Whether every literal is cheap to scan for: at the start of a word, from a rare
    character, or a character (any text is asked for its characters); `anywhere`: or long
    (the scan stops at every letter anyway, for the literals some patterns start with; few
    places go on to be as long)."""
    return all(
        s[0] not in _COMMON_CHARS or len(s) == 1 or (anywhere and len(s) >= _LONG) for s in one_of
    )


def _marked(one_of: frozenset[str] | None) -> frozenset[str] | None:
    """The strings, each that starts with signs and then a word looked for as that word,
    at the start of a word (" risk" as "risk" starting a word): found only there, cheaply."""
    if one_of is None:
        return None
    out = set()
    for literal in one_of:
        word = literal.lstrip(_SIGNS)
        if word != literal and not literal.startswith(WORD_START) and _WORD_CHAR.match(word):
            literal = WORD_START + word
        out.add(literal)
    return frozenset(out)


def _rarest(ranked: list[frozenset[str]], most: int) -> list[frozenset[str]]:
    """The first `most` sets, skipping one that another chosen implies (each of whose
    literals holds one of its own)."""
    chosen: list[frozenset[str]] = []
    for one_of in ranked:
        if len(chosen) == most:
            break
        bare = [x.lstrip(WORD_START) for x in one_of]
        if not any(all(any(x in w for x in bare) for w in other) for other in chosen):
            chosen.append(one_of)
    return chosen


def _sequence(items: list[Any], start: bool) -> _Info:
    """A run of parts: their needs, and the strings of each stretch of exact parts joined
    (each a need in its turn when it grows too long). `start`: a word character at its
    start starts a word."""
    needs: list[frozenset[str]] = []
    run: frozenset[str] | None = _EMPTY
    whole = True  # every part so far exact, and joined into `run`
    ends, state = _KEEPS, start  # after the parts so far: from each state, and from `start`
    k = 0
    while k < len(items):
        after_word = state
        word = _letters(items, k)
        if word:
            # Most parts are letters of words: a word is joined at once, the run filled up
            # to its longest and needed, and the rest of the word running on.
            k += len(word)
            sign = _sign(word[-1])
            ends, state = (sign, sign), sign
            if after_word and run in (None, _EMPTY) and _WORD_CHAR.match(word):
                word = WORD_START + word
            if run is None:
                run = _EMPTY
            room = _LONGEST - max(map(len, run))
            run, word = frozenset(_join(a, word[:room]) for a in run), word[max(room, 0) :]
            while word:
                whole = False
                if _usable(run):
                    needs.append(run)
                run, word = frozenset({word[:_LONGEST]}), word[_LONGEST:]
            continue
        op, arg = items[k]
        k += 1
        info = _item(op, arg, after_word)
        ends, state = (info.ends[ends[0]], info.ends[ends[1]]), info.ends[state]
        exact = info.exact
        if exact is not None and after_word and run in (None, _EMPTY):
            exact = _starting_words(exact)
        needs += info.needs
        if exact is not None and run is not None:
            joined = frozenset(_join(a, b) for a in run for b in exact)
            if len(joined) <= _MOST_STRINGS and max(map(len, joined)) <= _LONGEST:
                run = joined
                continue
        whole = False
        if _usable(run):
            needs.append(run)
        run = exact
    if _usable(run) and not whole:
        needs.append(run)
    return _Info(run if whole else None, tuple(needs), ends)


def _letters(items: list[Any], k: int) -> str:
    """The letters (lower case) of the plain characters that follow one another from
    items[k], "" if it is none."""
    chars = []
    for op, arg in items[k : k + 64]:
        if op is not _c.LITERAL or arg >= FIRST_STAND_IN:
            break
        char = chr(arg).lower()
        if len(char) != 1:  # ("İ" lower-cased is two characters)
            break
        chars.append(char)
    return "".join(chars)


def _starting_words(strings: frozenset[str]) -> frozenset[str]:
    """The strings, marked as starting a word where they start with a word character."""
    return frozenset(WORD_START + s if _WORD_CHAR.match(s) else s for s in strings)


def _join(before: str, after: str) -> str:
    """Two strings one after the other (a word start mark only ever at the start)."""
    return before + after.lstrip(WORD_START) if before else after


def _sign(char: str) -> bool:
    """Whether a character is never a word character (a space or an ASCII sign)."""
    return char.isascii() and not char.isalnum() and char != "_"


def _item(op: Any, arg: Any, start: bool) -> _Info:
    """One part of a sequence; `start`: a word character at its start starts a word."""
    if op is _c.LITERAL:  # a named list (its own letters are read in `_sequence`)
        words = words_of(arg)
        if words is None or any(len(w.lower()) != len(w) for w in words):
            return _UNKNOWN  # ("İ" lower-cased is two characters: not one for one)
        names = frozenset(w[:_LONGEST].lower() for w in words)
        return _Info(None, (_starting_words(names) if start else names,))
    if op is _c.IN:
        signs = _signs(arg)
        return _Info(_one_of(arg), (), _STARTS if signs else _UNKNOWN.ends)
    if op is _c.SUBPATTERN:
        return _sequence(arg[3].data, start)
    if op is _c.BRANCH:
        return _branches(arg[1], start)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        return _repeat(arg[0], arg[1], arg[2], start)
    if op is _c.AT:
        if arg is _c.AT_NON_BOUNDARY:
            return _Info(_EMPTY, ())
        starts = arg in (_c.AT_BOUNDARY, _c.AT_BEGINNING, _c.AT_BEGINNING_STRING)
        return _Info(_EMPTY, (), _STARTS if starts else _KEEPS)
    if op is _c.ASSERT:  # a lookahead or lookbehind that must hold: its text is there
        inner = _sequence(arg[1].data, start and arg[0] >= 0)
        extra = (inner.exact,) if _usable(inner.exact) else ()
        return _Info(_EMPTY, (*inner.needs, *extra), _KEEPS)
    if op is _c.ASSERT_NOT:  # `(?<![\w-])`: no word character before
        seen = arg[1].data
        behind = arg[0] < 0 and len(seen) == 1 and _signs(seen[0][1]) is False
        return _Info(_EMPTY, (), _STARTS if behind else _KEEPS)
    return _UNKNOWN


def _signs(members: Any) -> bool | None:
    """For a set of characters (`[...]`): True when none is a word character, False when
    every word character is one (`\\w`), None otherwise (or when it is not a set)."""
    if not isinstance(members, list) or not members or members[0][0] is _c.NEGATE:
        return None
    if (_c.CATEGORY, _c.CATEGORY_WORD) in members:
        return False
    for kind, value in members:
        if kind is _c.CATEGORY and value in _NOT_WORD:
            continue
        if kind is not _c.LITERAL or not _sign(chr(value)):
            return None
    return True


def _one_of(members: list[Any]) -> frozenset[str] | None:
    """The characters (lower case) a small set matches, None for a large one."""
    if members == [(_c.CATEGORY, _c.CATEGORY_DIGIT)]:
        return _DIGITS
    chars: set[str] = set()
    for kind, value in members:
        if kind is _c.LITERAL and words_of(value) is None:
            chars.add(chr(value).lower())
        elif kind is _c.RANGE and value[1] - value[0] < 10:
            chars |= {chr(code).lower() for code in range(value[0], value[1] + 1)}
        else:
            return None
    if len(chars) > 10 or any(len(c) != 1 for c in chars):
        return None
    return frozenset(chars)


def _branches(branches: list[Any], start: bool) -> _Info:
    """An alternation: the union of its branches' strings when all are exact; else it needs
    one of each branch's rarest need, when every branch has one. (Read branch by branch,
    and no further once neither can be had.)"""
    union: set[str] | None = set()
    joined: set[str] | None = set()
    ends = _STARTS
    for branch in branches:
        info = _sequence(branch.data, start)
        ends = (ends[0] and info.ends[0], ends[1] and info.ends[1])
        if union is not None:
            union = None if info.exact is None else union | info.exact
            if union is not None and len(union) > _MOST_STRINGS:
                union = None
        if joined is not None:
            own = sorted(_own(info), key=rarity)
            joined = joined.union(own[0]) if own else None
            if joined is not None and len(joined) > _WIDEST_NEED:
                joined = None
        if union is None and joined is None:
            return _UNKNOWN
    if union is not None:
        return _Info(frozenset(union), (), ends)
    return _Info(None, (frozenset(joined or ()),), ends)


def _own(info: _Info) -> list[frozenset[str]]:
    """A branch's strong needs, or failing those, its needs cheap to look for."""
    every = [n for n in map(_marked, (*info.needs, info.exact)) if n is not None and _usable(n)]
    chosen = [n for n in every if strong(n, anywhere=True)]
    return chosen or [n for n in every if _cheap(n)]


def _repeat(least: int, most: int, body: Any, start: bool) -> _Info:
    """A part repeated: what one copy needs, when there is one (the first starts where the
    part does, so `start` holds for it)."""
    inner = _sequence(body.data, start)
    if least == 0:
        # Either nothing (the state stays) or copies (the state a copy leaves).
        ends = (False, inner.ends[1])
        if most == 1 and inner.exact is not None:
            return _Info(inner.exact | _EMPTY, (), ends)
        return _Info(None, (), ends)
    if least == most == 1:
        return inner
    extra = (inner.exact,) if _usable(inner.exact) else ()
    return _Info(None, (*inner.needs, *extra), inner.ends)


def _usable(strings: frozenset[str] | None) -> TypeGuard[frozenset[str]]:
    """Whether a set of strings can be a need: none of them empty."""
    return bool(strings) and not any(not s.lstrip(WORD_START) for s in strings or ())


def _chars(one_of: frozenset[str]) -> bool:
    return all(len(s) == 1 for s in one_of)


@lru_cache(maxsize=65536)
def rarity(one_of: frozenset[str]) -> tuple[float, int]:
    """Lower for a set of literals less likely to be in a text: long literals, at the start
    of a word, of rare characters."""
    chance = 0.0
    for literal in one_of:
        word = literal.lstrip(WORD_START)
        rare = min((0.5 if c in _COMMON_CHARS else 0.05) for c in word)
        chance += rare * (0.3 if word != literal else 1.0) * 4.0 ** (1 - len(word))
    return chance, len(one_of)

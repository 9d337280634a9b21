"""A rule set compiled into one pass over a text: where each of its patterns may match."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from compliance_rules.finder import Finder, Literal, later_searches
from compliance_rules.folding import fold, folded
from compliance_rules.index import Fallback, Index, index, inside_words
from compliance_rules.literals import may_match_empty, start_literals
from compliance_rules.packs import NOT_ALONE, Rule
from compliance_rules.pattern import Regex, compiling

Pattern = Regex | re.Pattern[str]
__all__ = ["Compiled", "Fallback", "Literal", "Pattern", "Scan", "fold"]


class Scan(NamedTuple):
    """What the scan of one text found."""

    # (rule, place, pattern): a pattern of the rule may match from the place.
    tries: list[tuple[int, int, int]]
    fallbacks: list[Fallback]  # patterns to look for on their own in this text
    hits: list[tuple[int, Literal]]  # each place a literal was found, and what it says
    found: set[str]  # the literals found


class Compiled:
    """Every rule of a rule set compiled into one scan of the (folded) text.

    A match of most patterns can only start where one of the literals it starts with is in
    the text. One pass over the text finds those literals for every pattern of every rule
    at once, and for the context patterns and product names; each pattern is then tried
    only where its literals are, anchored, and only in a text that holds what the pattern
    needs elsewhere (`index`: literals and characters read from its regex). A pattern with
    no such literals is looked for on its own, when the text holds what it needs.
    Exceptions and off-label cues, needed only near a hit or a product's name, are found
    the same way there, when asked for.
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        names: Sequence[Pattern] = (),
        cues: Iterable[Pattern] = (),
        *,
        sharp: bool = False,
    ) -> None:
        self._rules = tuple(rules)
        self.patterns = _alternatives(rules)
        # Rules searched for whole, the way `finditer` does: an empty match cannot be found
        # by its literals.
        self.whole = frozenset(
            i for i, rule in enumerate(rules) if any(may_match_empty(p) for p, _ in rule.parts)
        )
        self.others: dict[Pattern, int] = {}
        self._nearby, later = self._index_others(rules, names, cues)
        self.later = frozenset(k for literals in later.values() for k in literals)
        self._later_literals = later_searches(later)
        # Each product's names' literals (None: searched for), by product.
        self._name_heads = [
            (n, None if self.others[p] < 0 else folded(start_literals(p)))
            for n, p in enumerate(names)
        ]
        self._names = frozenset(x for _, heads in self._name_heads for x in heads or ())
        self._unnamed = [n for n, heads in self._name_heads if heads is None]
        self._later = Finder(later.keys(), {}, later)
        # Loading reads only the gates of the patterns (reading what each needs takes a
        # moment per pattern); warming the rules sharpens the index (`sharpen`).
        self._index: Index = index(self._rules, self.patterns, self._nearby, sharp=sharp)
        self._sharpening = threading.Lock()

    def sharpen(self) -> None:
        """Read what every pattern needs in a text from its regex, so that fewer are tried
        (the results stay the same), and compile the scan's regexes. A scan running
        meanwhile uses the index as it was."""
        with self._sharpening:
            if not self._index.sharp:
                self._index = index(self._rules, self.patterns, self._nearby, sharp=True)
        self._index.finder.compile()
        self._later.compile()

    def _index_others(
        self, rules: Sequence[Rule], names: Sequence[Pattern], cues: Iterable[Pattern]
    ) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        """Number each distinct other pattern in `self.others` (the rules' context patterns,
        the product registry's names; and, found only when asked for, the rules' exceptions
        and the registry's cues), -1 when it is searched for the plain way; and where each
        may start: (found in the scan, found only when asked for), by literal.

        A context pattern that may start inside a word is found only when asked for too:
        looking for its literals everywhere would slow the scan of every text."""
        nearby: dict[str, list[int]] = {}
        later: dict[str, list[int]] = {}
        now = [*(r.nearby for r in rules if r.nearby is not None), *names]
        lazy = [*(e for r in rules for e in r.exceptions), *cues]
        for pattern, places in [*((p, nearby) for p in now), *((p, later) for p in lazy)]:
            if pattern in self.others:
                continue
            heads = None if may_match_empty(pattern) else folded(start_literals(pattern))
            k = self.others[pattern] = -1 if heads is None else len(self.others)
            if places is nearby and pattern not in names and any(map(inside_words, heads or ())):
                places = later
            for literal in heads or ():
                places.setdefault(literal, []).append(k)
        return nearby, later

    def describe(self) -> str:
        """What the pass is made of, in a line."""
        patterns = sum(len(ps) for i, ps in enumerate(self.patterns) if i not in self.whole)
        found = self._index
        return (
            f"{len(self.patterns)} rules, {patterns} patterns: "
            f"{patterns - len(found.fallbacks)} tried where one of their "
            f"{found.finder.size} literals is found, {len(found.fallbacks)} looked for on "
            f"their own, {len(self.whole)} rules searched for whole; each only in a text "
            f"with what it needs ({found.needs} sets of literals)"
        )

    def scan(self, text: str, deadline: float = math.inf) -> Scan:
        """Where in `text` (folded, see `fold`) each pattern of each rule may match.

        TimeoutError when the `time.monotonic()` `deadline` has passed (on a long text), time
        spent compiling (since `start_clock`) not counted.
        """
        found_in = self._index  # (one index for the whole scan, even if sharpened meanwhile)
        hits = found_in.finder.find(text)
        if time.monotonic() >= deadline + compiling():
            raise TimeoutError("out of time")
        found: set[str] = set().union(*[entry.literals for _, entry in hits])
        met = found_in.met(hits, text)
        tries = [(i, at, j) for at, entry in hits for i, j, needs in entry.parts if needs <= met]
        fallbacks = [f for f in found_in.fallbacks if f.needs <= met]
        return Scan(tries, fallbacks, hits, found)

    def named(self, found: set[str]) -> list[int]:
        """The products (by number) whose names may be in a text the scan found `found` in."""
        if found.isdisjoint(self._names):
            return self._unnamed
        return [n for n, heads in self._name_heads if heads is None or not heads.isdisjoint(found)]

    def may_be_later(self, k: int, text: str, lo: int, hi: int) -> bool:
        """Whether one of the literals of `k` (found only when asked for) is in text[lo:hi]."""
        return self._later_literals[k].search(text, lo, hi) is not None

    def scan_later(self, text: str) -> list[tuple[int, tuple[int, ...]]]:
        """Where in `text` (folded) the patterns found only when asked for may match: each
        place a literal of theirs starts, in order, and the patterns that may start there.

        A stretch of the text asked about has its places among these; a place whose literal
        runs on past the stretch tries a pattern that cannot match inside it, in vain."""
        return sorted((at, entry.nearby) for at, entry in self._later.find(text))


def _alternatives(rules: Sequence[Rule]) -> tuple[tuple[Regex, ...], ...]:
    """Each rule's patterns, to be tried one by one at a place as its alternation would try
    them; the alternation itself when they cannot be (a numbered back-reference or a global
    flag in one of them)."""
    return tuple(
        tuple(p for p, _ in rule.parts)
        if rule.parts and not NOT_ALONE.search(rule.expression)
        else (rule.pattern,) * max(1, len(rule.parts))
        for rule in rules
    )

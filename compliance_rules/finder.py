"""Many literals found in one pass over a (folded) text: where each starts, and what that says."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from compliance_rules.literals import WORD_START
from compliance_rules.pattern import compile_time

# (rule, pattern, needs): a pattern of a rule that may match from a place, when the text
# holds the needs (numbered sets of literals; none: always).
Part = tuple[int, int, frozenset[int]]


class Literal(NamedTuple):
    """What finding a literal at a place says."""

    literals: frozenset[str]  # it and those of its prefixes that are literals: all there
    parts: tuple[Part, ...]  # the patterns of rules that may match from there
    nearby: tuple[int, ...]  # other patterns that may match from there
    meets: frozenset[int]  # the needs (numbered) these literals meet


class Finder:
    """Finds literals in a (folded) text: at each place, the longest literal there.

    Every other literal starting at that place is a prefix of it, so a found literal stands
    for those too. A regex (the literals as a trie) skips fast to a literal's first
    character and tries the trie from there. Literals that only count at the start of a
    word (WORD_START), most of them, have a regex of their own that looks there only; those
    that start with a character outside ASCII (names in other scripts) one that a plain
    ASCII text (most) is spared. The regexes are compiled when first used (`compile`), as
    the patterns are.
    """

    def __init__(
        self,
        every: Iterable[str],
        parts: Mapping[str, list[Part]],
        nearby: Mapping[str, list[int]],
        meets: Mapping[str, Iterable[int]] | None = None,
    ) -> None:
        every = frozenset(every)
        self.size = len(every)
        self._sources: list[tuple[str, dict[str, Literal], bool]] = []
        self._scans: list[tuple[re.Pattern[str], dict[str, Literal], bool]] | None = None
        self._compiling = threading.Lock()
        for at_word, ascii_ in ((True, True), (True, False), (False, True), (False, False)):
            marker = WORD_START if at_word else ""
            words = sorted(
                w[len(marker) :]
                for w in every
                if w.startswith(WORD_START) == at_word and w[len(marker)].isascii() == ascii_
            )
            if not words:
                continue
            first = "".join(sorted({re.escape(w[0]) for w in words}))
            scan = (r"(?<![a-z0-9_])" if at_word else "") + f"[{first}](?<=(?=({_trie(words)})).)"
            table = {}
            for w in words:
                literal = marker + w
                there = frozenset(literal[:n] for n in range(1, len(literal) + 1)) & every
                table[w] = _literal(there, parts, nearby, meets or {})
            self._sources.append((scan, table, ascii_))

    def compile(self) -> list[tuple[re.Pattern[str], dict[str, Literal], bool]]:
        """The scan's regexes, compiled now if they were not yet."""
        scans = self._scans
        if scans is None:
            with self._compiling:
                if self._scans is None:
                    with compile_time():
                        self._scans = [
                            (re.compile(source, re.DOTALL), table, ascii_)
                            for source, table, ascii_ in self._sources
                        ]
                scans = self._scans
        return scans

    def find(self, text: str, lo: int = 0, hi: int | None = None) -> list[tuple[int, Literal]]:
        """Each place in text[lo:hi] (folded) a literal starts, and the longest one there."""
        stop = len(text) if hi is None else hi
        found = []
        plain = text.isascii()
        for scan, table, ascii_ in self.compile():
            if ascii_ or not plain:
                found += [(m.start(), table[m.group(1)]) for m in scan.finditer(text, lo, stop)]
        return found


class Places:
    """Where in a (folded) text one of a pattern's start literals is, overlapping places too:
    the places to try a pattern kept off the scan because its literals may start inside a
    word (a product's name in any script). Far cheaper than looking for the pattern itself
    at every place; the pattern is then tried, anchored, at each."""

    def __init__(self, literals: Iterable[str]) -> None:
        words = sorted({w.lstrip(WORD_START) for w in literals})
        first = "".join(sorted({re.escape(w[0]) for w in words}))
        self._source = f"[{first}](?<=(?={_trie(words)}).)"
        self._scan: re.Pattern[str] | None = None

    def find(self, text: str) -> list[int]:
        scan = self._scan
        if scan is None:
            with compile_time():
                scan = self._scan = re.compile(self._source, re.DOTALL)
        return [m.start() for m in scan.finditer(text)]


def _literal(
    there: frozenset[str],
    parts: Mapping[str, list[Part]],
    nearby: Mapping[str, list[int]],
    meets: Mapping[str, Iterable[int]],
) -> Literal:
    """What finding the literals `there` at a place says."""
    return Literal(
        there,
        tuple(dict.fromkeys(x for p in there for x in parts.get(p, ()))),
        tuple(dict.fromkeys(x for p in there for x in nearby.get(p, ()))),
        frozenset(k for p in there for k in meets.get(p, ())),
    )


def later_searches(later: Mapping[str, list[int]]) -> dict[int, re.Pattern[str]]:
    """For each pattern found only when asked for, a regex of its literals as plain strings:
    a stretch of text in which none is (most are) need not be scanned for it."""
    literals_of: dict[int, set[str]] = {}
    for literal, ks in later.items():
        for k in ks:
            literals_of.setdefault(k, set()).add(literal.lstrip(WORD_START))
    return {k: re.compile("|".join(map(re.escape, sorted(ls)))) for k, ls in literals_of.items()}


def _trie(words: list[str]) -> str:
    """A regex matching any of `words` (none empty), longest first at a position."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(root)

"""A rule set compiled into one pass over a text: where each of its patterns may match."""

from __future__ import annotations

import math
import re
import string
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import regex

from compliance_rules.literals import WORD_START, literal_gate, may_match_empty, start_literals
from compliance_rules.packs import NOT_ALONE, Rule
from compliance_rules.pattern import Regex

Pattern = Regex | re.Pattern[str]
_CASE_BLIND = regex.IGNORECASE | regex.VERSION0
_NOT_WORD = "".join(ch for ch in map(chr, range(1, 128)) if not (ch.isalnum() or ch == "_"))
_WORD_CHAR = re.compile(r"[a-z0-9_]")


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


_FOLD = _Fold({code: ord(chr(code).lower()) for code in range(128)})


def fold(text: str) -> str:
    """`text` as the scans read it: case folded, every character where it was."""
    return text.lower() if text.isascii() else text.translate(_FOLD)


def folded(gate: frozenset[str] | None) -> frozenset[str] | None:
    """Literals (of `start_literals`) as the scans report them."""
    return None if gate is None else frozenset(g.translate(_FOLD) for g in gate)


def gate_literals(gate: frozenset[str] | None) -> frozenset[str] | None:
    """Literals of `literal_gate`, one of which must be in a text, as the scans report them.

    Only their presence counts, so one that starts with a sign and then a word (" risk",
    "-year") is looked for as that word, at the start of a word: the scan then does not
    stop at every space.
    """
    if gate is None:
        return None
    out = set()
    for literal in folded(gate) or ():
        word = literal.lstrip(_NOT_WORD)
        if word != literal and not literal.startswith(WORD_START) and len(word) >= 4:
            literal = WORD_START + word if _WORD_CHAR.match(word) else literal
        out.add(literal)
    return frozenset(out)


class Fallback(NamedTuple):
    """A pattern no literal can be read from the start of: it is looked for on its own,
    at every place, when its literals (if it has any) are in the text."""

    rule: int
    part: int
    pattern: Regex
    gate: frozenset[str] | None


class Literal(NamedTuple):
    """What finding a literal at a place says."""

    literals: frozenset[str]  # it and those of its prefixes that are literals: all there
    parts: tuple[tuple[int, int], ...]  # (rule, pattern) pairs that may match from there
    needy: tuple[tuple[int, int, frozenset[str]], ...]  # the same, if a literal is there too
    nearby: tuple[int, ...]  # other patterns that may match from there


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
    only where its literals are, anchored. A pattern with no such literals is looked for
    on its own, when it may be in the text. Exceptions and off-label cues, needed only
    near a hit or a product's name, are found the same way there, when asked for.
    """

    def __init__(
        self, rules: Sequence[Rule], names: Sequence[Pattern] = (), cues: Iterable[Pattern] = ()
    ) -> None:
        self.fallbacks: list[Fallback] = []
        whole, parts, needy, gates = self._index_rules(rules)
        self.whole = frozenset(whole)  # rules searched for whole, the way `finditer` does
        self._ungated = [f for f in self.fallbacks if f.gate is None]
        self._gated = frozenset(literal for f in self.fallbacks for literal in f.gate or ())
        self.patterns = _alternatives(rules)
        self.others: dict[Pattern, int] = {}
        nearby, later = self._index_others(rules, names, cues)
        self.later = frozenset(k for literals in later.values() for k in literals)
        self._later_literals = _later_searches(later)
        # Each product's names' literals (None: searched for), by product.
        self._name_heads = [
            (n, None if self.others[p] < 0 else folded(start_literals(p)))
            for n, p in enumerate(names)
        ]
        self._names = frozenset(x for _, heads in self._name_heads for x in heads or ())
        self._unnamed = [n for n, heads in self._name_heads if heads is None]
        self._finder = _Finder(
            parts.keys() | needy.keys() | nearby.keys() | gates, parts, needy, nearby
        )
        self._later = _Finder(later.keys(), {}, {}, later)

    def _index_rules(
        self, rules: Sequence[Rule]
    ) -> tuple[
        list[int],
        dict[str, list[tuple[int, int]]],
        dict[str, list[tuple[int, int, frozenset[str]]]],
        set[str],
    ]:
        """Each rule's patterns by the literals they start with (`parts`), or that and a
        literal elsewhere in the text (`needy`); those with none go to `self.fallbacks`.
        Also the rules searched for whole and the literals the gates look for."""
        parts: dict[str, list[tuple[int, int]]] = {}
        needy: dict[str, list[tuple[int, int, frozenset[str]]]] = {}
        gates: set[str] = set()
        whole = []
        for i, rule in enumerate(rules):
            if any(may_match_empty(part) for part, _ in rule.parts):
                whole.append(i)  # an empty match cannot be found by its literals
                continue
            for j, (part, gate) in enumerate(
                rule.parts or ((rule.pattern, literal_gate(rule.pattern)),)
            ):
                literals = folded(start_literals(part))
                needs = gate_literals(gate)
                if literals is None:
                    self.fallbacks.append(Fallback(i, j, part, needs))
                    gates |= needs or set()
                elif needs is None or needs >= literals or not _word_starts(needs):
                    for literal in literals:
                        parts.setdefault(literal, []).append((i, j))
                else:
                    # "(?:the )?best" may start at any "the", but only with a "best" too.
                    for literal in literals:
                        needy.setdefault(literal, []).append((i, j, needs))
                    gates |= needs
        return whole, parts, needy, gates

    def _index_others(
        self, rules: Sequence[Rule], names: Sequence[Pattern], cues: Iterable[Pattern]
    ) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        """Number each distinct other pattern in `self.others` (the rules' context patterns,
        the product registry's names; and, found only when asked for, the rules' exceptions
        and the registry's cues), -1 when it is searched for the plain way; and where each
        may start: (found in the scan, found only when asked for), by literal."""
        nearby: dict[str, list[int]] = {}
        later: dict[str, list[int]] = {}
        now = [*(r.nearby for r in rules if r.nearby is not None), *names]
        lazy = [*(e for r in rules for e in r.exceptions), *cues]
        for pattern, places in [*((p, nearby) for p in now), *((p, later) for p in lazy)]:
            if pattern in self.others:
                continue
            heads = None if may_match_empty(pattern) else folded(start_literals(pattern))
            k = self.others[pattern] = -1 if heads is None else len(self.others)
            for literal in heads or ():
                places.setdefault(literal, []).append(k)
        return nearby, later

    def describe(self) -> str:
        """What the pass is made of, in a line."""
        patterns = sum(len(ps) for i, ps in enumerate(self.patterns) if i not in self.whole)
        return (
            f"{len(self.patterns)} rules, {patterns} patterns: "
            f"{patterns - len(self.fallbacks)} tried where one of their "
            f"{self._finder.size} literals is found, {len(self.fallbacks)} looked for on "
            f"their own, {len(self.whole)} rules searched for whole"
        )

    def scan(self, text: str, deadline: float = math.inf) -> Scan:
        """Where in `text` (folded, see `fold`) each pattern of each rule may match.

        TimeoutError when the `time.monotonic()` `deadline` has passed (on a long text).
        """
        hits = self._finder.find(text)
        if time.monotonic() >= deadline:
            raise TimeoutError("out of time")
        found: set[str] = set().union(*[entry.literals for _, entry in hits])
        tries = [(i, at, j) for at, entry in hits for i, j in entry.parts]
        for at, entry in hits:
            if entry.needy:
                tries += [(i, at, j) for i, j, gate in entry.needy if not gate.isdisjoint(found)]
        fallbacks = self._ungated
        if not found.isdisjoint(self._gated):
            fallbacks = [
                f for f in self.fallbacks if f.gate is None or not f.gate.isdisjoint(found)
            ]
        return Scan(tries, fallbacks, hits, found)

    def named(self, found: set[str]) -> list[int]:
        """The products (by number) whose names may be in a text the scan found `found` in."""
        if found.isdisjoint(self._names):
            return self._unnamed
        return [n for n, heads in self._name_heads if heads is None or not heads.isdisjoint(found)]

    def may_be_later(self, k: int, text: str, lo: int, hi: int) -> bool:
        """Whether one of the literals of `k` (found only when asked for) is in text[lo:hi]."""
        return self._later_literals[k].search(text, lo, hi) is not None

    def scan_later(self, text: str, lo: int, hi: int) -> dict[int, list[int]]:
        """Where in text[lo:hi] (folded) the patterns found only when asked for may match
        (with no more than that slice in sight: matches in it are all that is asked for)."""
        places: dict[int, list[int]] = {}
        for at, entry in self._later.find(text, lo, hi):
            for k in entry.nearby:
                places.setdefault(k, []).append(at)
        return places


class _Finder:
    """Finds literals in a (folded) text: at each place, the longest literal there.

    Every other literal starting at that place is a prefix of it, so a found literal stands
    for those too. A regex (the literals as a trie) skips fast to a literal's first
    character and tries the trie from there. Literals that only count at the start of a
    word (WORD_START), most of them, have a regex of their own that looks there only.
    """

    def __init__(
        self,
        every: Iterable[str],
        parts: Mapping[str, list[tuple[int, int]]],
        needy: Mapping[str, list[tuple[int, int, frozenset[str]]]],
        nearby: Mapping[str, list[int]],
    ) -> None:
        every = frozenset(every)
        self.size = len(every)
        self._scans: list[tuple[re.Pattern[str], dict[str, Literal]]] = []
        for at_word in (True, False):
            marker = WORD_START if at_word else ""
            words = sorted(w[len(marker) :] for w in every if w.startswith(WORD_START) == at_word)
            if not words:
                continue
            first = "".join(sorted({re.escape(w[0]) for w in words}))
            scan = re.compile(
                (r"(?<![a-z0-9_])" if at_word else "") + f"[{first}](?<=(?=({_trie(words)})).)",
                re.DOTALL,
            )
            table = {}
            for w in words:
                literal = marker + w
                there = frozenset(literal[:n] for n in range(1, len(literal) + 1)) & every
                these = (
                    tuple(dict.fromkeys(x for p in there for x in parts.get(p, ()))),
                    tuple(dict.fromkeys(x for p in there for x in needy.get(p, ()))),
                    tuple(dict.fromkeys(x for p in there for x in nearby.get(p, ()))),
                )
                table[w] = Literal(there, *these)
            self._scans.append((scan, table))

    def find(self, text: str, lo: int = 0, hi: int | None = None) -> list[tuple[int, Literal]]:
        """Each place in text[lo:hi] (folded) a literal starts, and the longest one there."""
        stop = len(text) if hi is None else hi
        found = []
        for scan, table in self._scans:
            found += [(m.start(), table[m.group(1)]) for m in scan.finditer(text, lo, stop)]
        return found


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


def _later_searches(later: Mapping[str, list[int]]) -> dict[int, re.Pattern[str]]:
    """For each pattern found only when asked for, a regex of its literals as plain strings:
    a stretch of text in which none is (most are) need not be scanned for it."""
    literals_of: dict[int, set[str]] = {}
    for literal, ks in later.items():
        for k in ks:
            literals_of.setdefault(k, set()).add(literal.lstrip(WORD_START))
    return {k: re.compile("|".join(map(re.escape, sorted(ls)))) for k, ls in literals_of.items()}


def _word_starts(literals: frozenset[str]) -> bool:
    """Whether every literal only counts at the start of a word: cheap to look for."""
    return all(literal.startswith(WORD_START) for literal in literals)


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

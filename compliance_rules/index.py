"""Where a rule set's patterns are tried in a text: at the literals they start with, when the
text holds what else they need; the patterns with no such literals, on their own."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from compliance_rules.finder import Finder, Literal, Part, Places
from compliance_rules.folding import FOLD, folded
from compliance_rules.literals import WORD_START, literal_gate, may_match_empty, start_literals
from compliance_rules.packs import Rule
from compliance_rules.pattern import Regex
from compliance_rules.required import needs, strong

_NOT_WORD = "".join(ch for ch in map(chr, range(1, 128)) if not (ch.isalnum() or ch == "_"))
_WORD_CHAR = re.compile(r"[a-z0-9_]")


class Fallback(NamedTuple):
    """A pattern no literal can be read from the start of: it is looked for on its own,
    at every place, when the text holds what it needs."""

    rule: int
    part: int
    pattern: Regex
    needs: frozenset[int]
    places: Places | None = None  # where its start literals are, when it has any


class Index(NamedTuple):
    """A rule set's patterns by the literals they start with (in `finder`), and the needs
    that keep a pattern from being tried in a text that cannot hold a match: numbered sets
    of literals and characters, one of each in any text the pattern matches in."""

    finder: Finder
    fallbacks: tuple[Fallback, ...]
    met_by: Mapping[str, tuple[int, ...]]  # by literal or character: the needs it meets
    chars: frozenset[str]  # the characters that meet a need
    needs: int  # how many
    sharp: bool  # with what each pattern's regex says it needs (else with its gate only)

    def met(self, hits: Iterable[tuple[int, Literal]], text: str) -> set[int]:
        """The needs a (folded) text meets, given the literals the finder found in it."""
        met: set[int] = set().union(*[entry.meets for _, entry in hits])
        met_by = self.met_by
        for char in self.chars.intersection(text):
            met.update(met_by[char])
        return met


def index(
    rules: Sequence[Rule],
    patterns: Sequence[Sequence[Regex]],
    nearby: Mapping[str, list[int]],
    sharp: bool,
) -> Index:
    """Each rule's patterns by the literals they start with, with what else they need (the
    gate of each; `sharp`: and what its regex says every match holds); those with none on
    their own. Rules that may match empty (searched for whole) are left out."""
    parts: dict[str, list[Part]] = {}
    fallbacks: list[Fallback] = []
    numbers: dict[frozenset[str], int] = {}
    for i, rule in enumerate(rules):
        if any(may_match_empty(part) for part, _ in rule.parts):
            continue
        for j, (part, gate) in enumerate(
            rule.parts or ((rule.pattern, literal_gate(rule.pattern)),)
        ):
            literals = folded(start_literals(part))
            # Tried with the rule's other patterns as one alternation, a pattern may match
            # at a place through another of them: then only its gate counts.
            read = sharp and patterns[i][j] is part
            found = _needs(part, gate, literals, read)
            wanted = frozenset(numbers.setdefault(n, len(numbers)) for n in found)
            places = None
            if read and any(map(inside_words, literals or ())) and any(map(strong, found)):
                # Literals that may start inside a word make the scan stop at every letter
                # of every text: a pattern that needs something rare is looked for on its
                # own instead, in the few texts that have it, where its literals are.
                places, literals = Places(literals or ()), None
            if literals is None:
                fallbacks.append(Fallback(i, j, part, wanted, places))
            for literal in literals or ():
                parts.setdefault(literal, []).append((i, j, wanted))
    met_by: dict[str, list[int]] = {}
    for one_of, k in numbers.items():
        for literal in one_of:
            met_by.setdefault(literal, []).append(k)
    # A single character is not scanned for: the text is asked for its characters.
    chars = frozenset(x for x in met_by if len(x) == 1)
    scanned = parts.keys() | nearby.keys() | (met_by.keys() - chars)
    return Index(
        Finder(scanned, parts, nearby, met_by),
        tuple(fallbacks),
        {x: tuple(ks) for x, ks in met_by.items()},
        chars,
        len(numbers),
        sharp,
    )


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


def _needs(
    pattern: Regex, gate: frozenset[str] | None, literals: frozenset[str] | None, read: bool
) -> Iterable[frozenset[str]]:
    """What a pattern needs in a text besides a literal it starts with (`literals`, None
    when it has none): what its regex says every match holds, when it is `read` (always
    for one with no literals), and its gate's literals, where they cost little to look for
    (at the start of a word) or nothing better is known."""
    wanted: list[frozenset[str]] = []
    if read or literals is None:
        found = needs(pattern, anywhere=literals is None)
        wanted += [frozenset(n.translate(FOLD) for n in one_of) for one_of in found]
    gated = gate_literals(gate)
    if (
        gated is not None
        and (_word_starts(gated) or (literals is None and not wanted))
        and (literals is None or not gated >= literals)
    ):
        wanted.append(gated)
    # A set holding one of the pattern's start literals is in the text wherever it is tried.
    return dict.fromkeys(n for n in wanted if literals is None or n.isdisjoint(literals))


def inside_words(literal: str) -> bool:
    """Whether a literal starts with a letter and may be found inside a word (a scan for
    such literals stops at every letter of every text)."""
    return not literal.startswith(WORD_START) and literal[0].isascii() and literal[0].isalpha()


def _word_starts(literals: Iterable[str]) -> bool:
    """Whether every literal only counts at the start of a word: cheap to look for."""
    return all(literal.startswith(WORD_START) for literal in literals)

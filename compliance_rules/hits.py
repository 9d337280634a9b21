"""Where rules fire in one text: their matches, the context they need, their exceptions."""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import regex

from compliance_rules.compiled import Compiled, Literal, Pattern
from compliance_rules.model import RuleError
from compliance_rules.packs import NOT_ALONE, Rule
from compliance_rules.pattern import Regex, compiling

Match = regex.Match[str] | re.Match[str]
WINDOW = 40  # characters each side of a hit in which an exception phrase is looked for
# Up to this length a text's regex calls run without a timer of their own: setting one up
# costs more than most calls on a short text take. The deadline is still checked between
# steps; a longer (possibly hostile) text has every `regex` call timed, and so does a
# pattern that backtracks badly on the probes it is tried on when the rules are compiled.
UNTIMED_CHARS = 1_000
# A full stop after a title ("Dr. Patel", "Mrs. Okafor", "Mme. Dubois") or "vs." does not
# end a clause.
# (The first character comes first, so that the regex engine skips fast to one; the titles
# are then looked for behind it.)
_CLAUSE_END = re.compile(
    r"[.!?;\n\s](?:(?<=[.!?;\n])"
    r"(?<!\bdr[.!?;\n])(?<!\bmr[.!?;\n])(?<!\bmrs[.!?;\n])(?<!\bms[.!?;\n])"
    r"(?<!\bst[.!?;\n])(?<!\bvs[.!?;\n])(?<!\bprof[.!?;\n])"
    # Other languages' titles: M., Mme., Mlle., Sr., Sra., Dra., Hr., Fr., Sig., Pan., Dhr.
    r"(?<!\bm[.!?;\n])(?<!\bmme[.!?;\n])(?<!\bmlle[.!?;\n])(?<!\bsr[.!?;\n])"
    r"(?<!\bsra[.!?;\n])(?<!\bdra[.!?;\n])(?<!\bhr[.!?;\n])(?<!\bfr[.!?;\n])"
    r"(?<!\bsig[.!?;\n])(?<!\bpan[.!?;\n])(?<!\bdhr[.!?;\n])"
    r"[.!?;\n]*(?:\s|$)|(?<=\s)(?:but|however|whereas)\s)",
    re.IGNORECASE,
)
# A sentence ends where a clause does, but not at a semicolon or a "but": an adverse event
# is often told in one clause and the medicine in the next ("she started Lipiva; two days
# later she was in hospital").
_SENTENCE_END = re.compile(
    _CLAUSE_END.pattern.replace(";", "").replace(r"|(?<=\s)(?:but|however|whereas)\s", ""),
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    context: str | None


class Text:
    """A text being checked, its time budget, where the rule set's scan found its patterns
    may match, and what several rules would each work out again: clauses, context."""

    __slots__ = (
        "_begins",
        "_ends",
        "_hits",
        "_later",
        "_later_places",
        "_near",
        "_places",
        "_stops",
        "compiled",
        "deadline",
        "folded",
        "text",
        "timed",
    )

    def __init__(
        self,
        text: str,
        deadline: float | None,
        compiled: Compiled | None = None,
        hits: list[tuple[int, Literal]] | None = None,
        folded: str = "",
    ) -> None:
        self.text = text
        self.deadline = deadline  # a `time.monotonic()` value; None: no limit
        self.compiled = compiled  # None: every pattern is searched for the plain way
        self.folded = folded  # the text as the scan reads it
        self.timed = deadline is not None and (compiled is None or len(text) > UNTIMED_CHARS)
        self._hits = hits or []  # the literals the scan found, where
        self._places: dict[int, list[int]] = {}  # by other pattern: where it may match
        self._later: dict[tuple[int, int], dict[int, list[int]]] = {}  # by stretch of text
        self._later_places: list[tuple[int, tuple[int, ...]]] | None = None
        # Clause and sentence ends, by the regex that finds them: (starts, ends).
        self._ends: dict[re.Pattern[str], tuple[list[int], list[int]]] = {}
        self._begins: dict[tuple[re.Pattern[str], int], int] = {}
        self._stops: dict[tuple[re.Pattern[str], int], int] = {}
        self._near: dict[tuple[Pattern, int, int], str | None] = {}

    def budget(self, pattern: Pattern | None = None) -> float | None:
        """Seconds the next regex call (of `pattern`) may take, None when it is untimed;
        TimeoutError when there are none left."""
        if self.deadline is None:
            return None
        # Compiling a pattern a text is the first to need is not that text's time.
        left = self.deadline + compiling() - time.monotonic()
        if left <= 0:
            raise TimeoutError("out of time")
        slow = self.compiled is not None and isinstance(pattern, Regex) and pattern.slow
        return left if self.timed or slow else None

    def tick(self) -> None:
        """TimeoutError once the deadline has passed: called between steps that are not
        regex calls of their own (finding a clause takes time on a long text)."""
        if self.deadline is not None and time.monotonic() >= self.deadline + compiling():
            raise TimeoutError("out of time")

    def clause(self, start: int, end: int) -> tuple[int, int]:
        """The clause text[start:end] is in: from the last clause end before it to the next."""
        return self._between(_CLAUSE_END, start, end)

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """The sentence text[start:end] is in (a semicolon or a "but" does not end one)."""
        return self._between(_SENTENCE_END, start, end)

    def scope(self, scope: str, start: int, end: int) -> tuple[int, int]:
        """Where a rule's context is looked for around text[start:end]: its clause, its
        sentence, or the whole text."""
        if scope == "text":
            return 0, len(self.text)
        return self.sentence(start, end) if scope == "sentence" else self.clause(start, end)

    def _between(self, ending: re.Pattern[str], start: int, end: int) -> tuple[int, int]:
        """From the last match of `ending` before text[start:end] to the next one after."""
        # Every end of the whole text, found once per text: a text with hundreds of hits
        # would otherwise be read from its start (or on to its end) for each.
        found = self._ends.get(ending)
        if found is None:
            spans = [m.span() for m in ending.finditer(self.text)]
            found = self._ends[ending] = [a for a, _ in spans], [b for _, b in spans]
        starts, ends = found
        begin = self._begins.get((ending, start))
        if begin is None:
            # From the last end before `start`, up to `start`, where the search stops as it
            # would have.
            known = bisect.bisect_right(ends, start)
            begin = ends[known - 1] if known else 0
            for m in ending.finditer(self.text, begin, start):
                begin = m.end()
            self._begins[ending, start] = begin
        stop = self._stops.get((ending, end))
        if stop is None:
            # The first end from `end` on is the next one found, unless `end` falls inside
            # one (a search from there may find one that starts later inside it).
            after = bisect.bisect_left(starts, end)
            if after and ends[after - 1] > end:
                next_end = ending.search(self.text, end)
                stop = next_end.start() if next_end else len(self.text)
            else:
                stop = starts[after] if after < len(starts) else len(self.text)
            self._stops[ending, end] = stop
        return begin, stop

    def near(self, pattern: Pattern, lo: int, hi: int) -> str | None:
        """The first match of a context pattern in text[lo:hi], or None."""
        key = (pattern, lo, hi)
        if key not in self._near:
            found = self.matches(pattern, lo, hi, first=True)
            self._near[key] = found[0].group(0) if found else None
        return self._near[key]

    def matches(
        self, pattern: Pattern, lo: int = 0, hi: int | None = None, first: bool = False
    ) -> list[Match]:
        """The matches of `pattern` in text[lo:hi], as `finditer` finds them (or the first).

        In a scanned text, a pattern the scan found places for is tried at those only: a
        search tries each place in turn, and a match cannot start anywhere else.
        """
        stop = len(self.text) if hi is None else hi
        k = -1 if self.compiled is None else self.compiled.others[pattern]
        out: list[Match] = []
        if k < 0:
            timeout = self.budget(pattern)
            found: Iterator[Match] = (
                pattern.finditer(self.text, lo, stop)
                if timeout is None or isinstance(pattern, re.Pattern)
                else pattern.finditer(self.text, lo, stop, timeout=timeout)
            )
            for m in found:
                out.append(m)
                if first:
                    break
            return out
        last = lo
        for at in self._places_of(k, lo, stop):
            if last <= at:
                tried = _match(pattern, self, at, stop)
                if tried is not None:
                    out.append(tried)
                    if first:
                        break
                    last = tried.end()
        return out

    def may_have(self, pattern: Pattern) -> bool:
        """False when `pattern` (found only when asked for) cannot match in the text: the
        literals it starts with are not there."""
        compiled = self.compiled
        if compiled is None:
            return True
        k = compiled.others[pattern]
        return k not in compiled.later or compiled.may_be_later(k, self.folded, 0, len(self.text))

    def possible(self, patterns: Sequence[Pattern], lo: int, hi: int) -> list[Pattern]:
        """Those of `patterns` (exceptions) that may match in text[lo:hi]: of those found
        only when asked for, the ones whose literals are in it."""
        compiled = self.compiled
        if compiled is None:
            return list(patterns)
        others, later = compiled.others, compiled.later
        there = self._later_in(lo, hi)
        return [p for p in patterns if others[p] not in later or others[p] in there]

    def _later_in(self, lo: int, hi: int) -> dict[int, list[int]]:
        """Where in text[lo:hi] each pattern found only when asked for may match (the text
        scanned for all of them once, the first time one is asked for)."""
        found = self._later.get((lo, hi))
        if found is None:
            every = self._later_places
            if every is None:
                assert self.compiled is not None
                self.tick()
                every = self._later_places = self.compiled.scan_later(self.folded)
            found = self._later[lo, hi] = {}
            for at, ks in every[bisect.bisect_left(every, (lo,)) :]:
                if at >= hi:
                    break
                for k in ks:
                    found.setdefault(k, []).append(at)
        return found

    def _places_of(self, k: int, lo: int, hi: int) -> list[int]:
        """Where in text[lo:hi] the scan found the other pattern `k` may match, in order."""
        compiled = self.compiled
        assert compiled is not None
        if k in compiled.later:  # looked for in this stretch only, once for all of them
            return sorted(self._later_in(lo, hi).get(k, ()))
        places = self._places.get(k)
        if places is None:
            places = self._places[k] = sorted(at for at, e in self._hits if k in e.nearby)
        return [at for at in places if lo <= at < hi]


def _match(pattern: Pattern, text: Text, at: int, end: int) -> Match | None:
    timeout = text.budget(pattern)
    if timeout is None or isinstance(pattern, re.Pattern):
        return pattern.match(text.text, at, end)
    return pattern.match(text.text, at, end, timeout=timeout)


def confirm(rule: Rule, text: Text, spans: Iterable[tuple[int, int]]) -> list[Hit]:
    """The matches `spans` of `rule` that count: context in the clause, no exception near."""
    hits = []
    nearby = rule.nearby
    for start, end in spans:
        text.tick()
        context = None
        if nearby is not None:
            lo, hi = text.scope(rule.scope, start, end)
            context = text.near(nearby, lo, hi)
            if context is None:
                continue
        if rule.exceptions and _excepted(rule.exceptions, text, start, end):
            continue
        hits.append(Hit(start, end, context))
    return hits


def _excepted(exceptions: tuple[Regex, ...], text: Text, start: int, end: int) -> bool:
    lo, hi = max(0, start - WINDOW), min(len(text.text), end + WINDOW)
    for exception in text.possible(exceptions, lo, hi):
        if any(e.start() < end and e.end() > start for e in text.matches(exception, lo, hi)):
            return True
    return False


def anchored(
    patterns: Sequence[Sequence[Regex]],
    text: Text,
    tries: list[tuple[int, int, int]],
) -> dict[int, list[tuple[int, int]]]:
    """Where each rule matches, as its `finditer` would find it, given (rule, place,
    pattern) triples, sorted: every place a match of one of its patterns may start.

    `finditer` takes the leftmost match, then looks again from its end: so each place in
    order is tried, anchored, unless an earlier match covers it. At one place, a rule's
    alternation takes its first pattern that matches there: `patterns[rule][pattern]`
    (the whole alternation, for a rule whose patterns cannot be tried one by one). None
    matches empty.
    """
    spans: dict[int, list[tuple[int, int]]] = {}
    plain = text.text
    timed = text.timed
    previous = (-1, -1, -1)
    these: Sequence[Regex] = ()
    found: list[tuple[int, int]] = []
    rule_at = -1
    last = 0
    for i, at, j in tries:
        if i != rule_at:
            text.tick()
            rule_at, last, these = i, 0, patterns[i]
            found = spans[i] = []
        if at < last or (i, at, j) == previous:
            continue  # covered by a match, or found twice (by two of its literals)
        previous = (i, at, j)
        pattern = these[j]
        compiled, slow = pattern.ready()
        m = _match(pattern, text, at, len(plain)) if timed or slow else compiled.match(plain, at)
        if m is not None:
            found.append(m.span())
            last = m.end()
    return spans


def everywhere(pattern: Regex, text: Text) -> list[tuple[int, int]]:
    """Where `pattern` matches in the text, leftmost first, none overlapping."""
    timeout = text.budget(pattern)
    found = (
        pattern.finditer(text.text)
        if timeout is None
        else pattern.finditer(text.text, timeout=timeout)
    )
    return [m.span() for m in found]


def starts_of(pattern: Regex, text: Text) -> list[int]:
    """Every place a match of `pattern` starts, overlapping ones too."""
    timeout = text.budget(pattern)
    found = (
        pattern.finditer(text.text, overlapped=True)
        if timeout is None
        else pattern.finditer(text.text, overlapped=True, timeout=timeout)
    )
    return [m.start() for m in found]


def prove(rules: Iterable[Rule]) -> None:
    """Compile each rule and check its examples: RuleError for the first that fails."""
    for rule in rules:
        rule.compile()
        for text in rule.must_match:
            if not _hits(rule, text):
                raise RuleError(
                    f"{rule.source}: rule {rule.id}: must_match example not matched: {text!r}"
                )
        for text in rule.must_not_match:
            if _hits(rule, text):
                raise RuleError(
                    f"{rule.source}: rule {rule.id}: must_not_match example matched: {text!r}"
                )


def _hits(rule: Rule, text: str) -> list[object]:
    """Where `rule` fires in `text` on its own: its patterns tried one by one at each place
    one may start, as the scan tries them (the alternation itself when they cannot be)."""
    plain = Text(text, None)
    if len(rule.parts) <= 1 or NOT_ALONE.search(rule.expression):
        return list(confirm(rule, plain, everywhere(rule.pattern, plain)))
    parts = [part for part, _ in rule.parts]
    tries = sorted((0, at, j) for j, part in enumerate(parts) for at in starts_of(part, plain))
    return list(confirm(rule, plain, anchored([parts], plain, tries).get(0, [])))

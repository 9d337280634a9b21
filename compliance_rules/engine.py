"""Run rules over a normalised text: context, exceptions, suggestions, and the outcome."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import regex

from compliance_rules.model import CATEGORIES, Finding, Outcome, Result, RuleError
from compliance_rules.normalise import normalise
from compliance_rules.packs import WORD_START, Rule, literal_gate, load_pack
from compliance_rules.registry import DEFAULT as DEFAULT_REGISTRY
from compliance_rules.registry import Registry, load_registry

PACKS = Path(__file__).parent / "packs"
WINDOW = 40  # characters each side of a hit in which an exception phrase is looked for
TIMEOUT = 0.25  # seconds one check may take before the text is held for a person
# A full stop after a title ("Dr. Patel", "Mrs. Okafor") or "vs." does not end a clause.
_CLAUSE_END = re.compile(
    r"(?<!\bdr)(?<!\bmr)(?<!\bmrs)(?<!\bms)(?<!\bst)(?<!\bvs)(?<!\bprof)"
    r"[.!?;\n]+(?:\s|$)|\s(?:but|however|whereas)\s",
    re.IGNORECASE,
)
_PII_CATEGORIES = {"phi_patient_identifier"}
# Near an off-label cue, words that show the text is about keeping to the label ("the
# pregnancy contraindication", "not a rescue inhaler", "the decompensated liver disease
# limitation") or reports an exposure ("got pregnant while on"), not promoting the use.
_LABEL_TALK_BEFORE = re.compile(
    r"\b(?:not|never|no|avoid|don'?t|do not|without)\s+(?:(?:a|an|the|for|in|use|use in|"
    r"to use|be used|recommended|approved|indicated)\s+)*\S*\s*$"
    r"|\b(?:got|gets|getting|became|become|becomes|is|was|were|she'?s|turned out to be)\s*$",
    re.IGNORECASE,
)
_LABEL_TALK_AFTER = re.compile(
    r"^\W*(?:[\w-]+\s+){0,3}?(?:contraindications?|contraindicated|warnings?|limitations?|"
    r"precautions?|restrictions?|exclusions?|is not (?:approved|indicated)|"
    r"isn'?t (?:approved|indicated))\b",
    re.IGNORECASE,
)
_LABEL_TALK_SPAN = 40
OFF_LABEL_RULE = "offlabel.registry"


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    context: str | None


class RuleSet:
    """Rules loaded from packs, with every rule's own examples already proven."""

    def __init__(
        self,
        rules: list[Rule],
        registry: Registry | None = None,
        actions: Mapping[str, Outcome] | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.registry = registry
        self.actions = dict(actions or {})
        self.packs = tuple(dict.fromkeys(r.pack for r in rules))
        # Products with off-label cues: the cues, the names lower-cased (as literals that
        # start a word: the names are matched as whole words), the cues' literals.
        off_label_products = tuple(
            (
                product,
                product.off_label,
                tuple(WORD_START + n for n in product.lowered_names),
                literal_gate(product.off_label),
            )
            for product in (registry.products if registry is not None else ())
            if product.off_label is not None
        )
        self._off_label_products = off_label_products
        self._ungated = frozenset(i for i, r in enumerate(self.rules) if r.gate is None)
        self._gates = _Gates(
            self.rules,
            [frozenset(names) for _, _, names, _ in off_label_products],
        )
        for rule in self.rules:
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

    def outcome_of(self, rule: Rule) -> Outcome:
        return self.actions.get(rule.category, rule.outcome)


class _Gates:
    """Which rules, and which of their patterns, can match a text: found in one scan.

    A pattern none of whose leading literals is in the (lower-cased) text cannot match.
    Rather than testing every literal of every pattern, a regex (the literals as a trie)
    finds the longest literal at each position; every other literal starting there is a
    prefix of it, so a found literal stands for those too. Literals that only count at the
    start of a word (WORD_START) are looked for there only, which is most of them.
    """

    def __init__(
        self, rules: tuple[Rule, ...], other: Iterable[frozenset[str] | None] = ()
    ) -> None:
        parts_of: dict[str, set[tuple[int, int]]] = {}
        for gate in other:  # literals whose presence is asked about elsewhere
            for literal in gate or ():
                parts_of.setdefault(literal, set())
        self._always: dict[int, list[int]] = {}  # gated rules' parts with no literals
        for i, rule in enumerate(rules):
            if rule.gate is None:
                continue  # the rule runs whole, every time
            parts = rule.parts or ((rule.pattern, rule.gate),)
            for j, (_, gate) in enumerate(parts):
                if gate is None:
                    self._always.setdefault(i, []).append(j)
                for literal in gate or ():
                    parts_of.setdefault(literal, set()).add((i, j))
        prefixes = {
            literal: frozenset(literal[:n] for n in range(1, len(literal) + 1)) & parts_of.keys()
            for literal in parts_of
        }
        # Per scan: the regex, and for each literal it finds, the literals that are then
        # in the text (it and its prefixes) and the parts they let run.
        self._scans: list[tuple[re.Pattern[str], dict[str, _Found]]] = []
        for at_word in (True, False):
            marker = WORD_START if at_word else ""
            words = sorted(
                w[len(marker) :] for w in parts_of if w.startswith(WORD_START) == at_word
            )
            if not words:
                continue
            # One literal from this position: the first character is looked for first (the
            # regex engine skips fast to it), the trie then tried from that character on.
            first = "".join(sorted({re.escape(w[0]) for w in words}))
            regex_ = re.compile(
                (r"(?<![a-z0-9_])" if at_word else "") + f"[{first}](?<=(?=({_trie(words)})).)",
                re.DOTALL,
            )
            found = {
                w: _Found(
                    prefixes[marker + w],
                    tuple(pair for p in prefixes[marker + w] for pair in parts_of[p]),
                )
                for w in words
            }
            self._scans.append((regex_, found))

    def scan(self, lowered: str) -> tuple[dict[int, set[int]], set[str]]:
        """For each gated rule that can fire on `lowered`, the parts worth running; and
        which of the literals occur in it."""
        active = {i: set(js) for i, js in self._always.items()}
        present: set[str] = set()
        for regex_, found in self._scans:
            for word in set(regex_.findall(lowered)):
                literals, unlocks = found[word]
                present |= literals
                for i, j in unlocks:
                    if i in active:
                        active[i].add(j)
                    else:
                        active[i] = {j}
        return active, present


class _Found(NamedTuple):
    literals: frozenset[str]  # the literal found and those of its prefixes that are literals
    unlocks: tuple[tuple[int, int], ...]  # (rule, part) pairs those literals let run


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


def pack_path(name: str) -> Path:
    """A shipped pack by name (`default`), or a path to a pack of the company's own."""
    if "/" in name or name.endswith((".yml", ".yaml")):
        return Path(name)
    return PACKS / f"{name}.yml"


def load_rules(
    *paths: Path,
    registry: Path | None = DEFAULT_REGISTRY,
    actions: Mapping[str, str] | None = None,
) -> RuleSet:
    """Load packs (default: every shipped pack) with the product registry's vocabulary."""
    products = load_registry(registry) if registry is not None else None
    vocabulary = products.vocabulary() if products else {}
    files = paths or tuple(sorted(PACKS.glob("*.yml")))
    rules: list[Rule] = []
    for path in files:
        rules.extend(load_pack(path, vocabulary))
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise RuleError(
            f"rule ids repeat across packs: {sorted({i for i in ids if ids.count(i) > 1})}"
        )
    overrides: dict[str, Outcome] = {}
    for category, outcome in (actions or {}).items():
        if category not in CATEGORIES:
            raise RuleError(f"actions: unknown category {category!r}")
        try:
            overrides[category] = Outcome(outcome)
        except ValueError as exc:
            raise RuleError(f"actions: {category}: unknown outcome {outcome!r}") from exc
    return RuleSet(rules, products, overrides)


@cache
def default_rules() -> RuleSet:
    """The default pack with the example product registry, as a new installation has."""
    return load_rules(pack_path("default"))


def _clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    begin = 0
    for m in _CLAUSE_END.finditer(text, 0, start):
        begin = m.end()
    stop = _CLAUSE_END.search(text, end)
    return begin, stop.start() if stop else len(text)


def _hits(
    rule: Rule,
    text: str,
    deadline: float | None = None,
    parts: Iterable[int] | None = None,
    lowered: str | None = None,
) -> list[Hit]:
    """Where `rule` fires in `text`, context and exceptions applied.

    `parts` are the rule's patterns worth running (default: all); the others' literals
    are not in the text. `lowered`, the text lower-cased (when that agrees with the regex
    engine's case-blindness), lets context and exceptions none of whose literals occur
    be passed over. Raises TimeoutError when `deadline` (a
    `time.monotonic()` value) passes mid-search.
    """

    def budget() -> float | None:
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(rule.id)
        return left

    hits = []
    nearby = rule.nearby
    exceptions: tuple[regex.Pattern[str], ...] | None = None
    for start, end in _matches(rule, text, parts, budget):
        if exceptions is None:  # the first match: leave out what cannot be in the text
            exceptions = rule.exceptions
            if lowered is not None:
                if nearby is not None and not _may_occur(rule.nearby_gate, lowered):
                    return []
                if rule.exception_gates:
                    exceptions = tuple(
                        e
                        for e, gate in zip(rule.exceptions, rule.exception_gates, strict=True)
                        if _may_occur(gate, lowered)
                    )
        context = None
        if nearby is not None:
            lo, hi = _clause_bounds(text, start, end)
            near = nearby.search(text, lo, hi, timeout=budget())
            if near is None:
                continue
            context = near.group(0)
        lo, hi = max(0, start - WINDOW), min(len(text), end + WINDOW)
        if any(
            e.start() < end and e.end() > start
            for exc in exceptions
            for e in exc.finditer(text, lo, hi, timeout=budget())
        ):
            continue
        hits.append(Hit(start, end, context))
    return hits


def _may_occur(gate: frozenset[str] | None, lowered: str) -> bool:
    return gate is None or any(literal.lstrip(WORD_START) in lowered for literal in gate)


def _matches(
    rule: Rule,
    text: str,
    parts: Iterable[int] | None,
    budget: Callable[[], float | None],
) -> list[tuple[int, int]]:
    """Where the rule's patterns match: as one alternation of them all would, leftmost
    first, the earlier pattern first at one place, none overlapping.

    Only `parts` are run (the others' literals are not in the text, so they cannot match),
    each on its own: a new alternation of just those would have to be compiled.
    """
    if parts is None or not rule.parts or len(parts) == len(rule.parts):  # type: ignore[arg-type]
        return [m.span() for m in rule.pattern.finditer(text, timeout=budget())]
    if len(parts) == 1:  # type: ignore[arg-type]
        (j,) = parts
        return [m.span() for m in rule.parts[j][0].finditer(text, timeout=budget())]
    found = sorted(
        (m.start(), j, m.end())
        for j in parts
        for m in rule.parts[j][0].finditer(text, timeout=budget())
    )
    spans: list[tuple[int, int]] = []
    last = -1
    for start, _, end in found:
        if start >= last:
            spans.append((start, end))
            last = max(end, start + 1)
    return spans


def check(text: str, rules: RuleSet | None = None, *, timeout: float = TIMEOUT) -> Result:
    """Check `text`; findings point into `text` as given, markup and all.

    A text the rules cannot finish with in `timeout` seconds (a hostile one, built to make
    a pattern backtrack) is held for a person to read, marked incomplete.
    """
    ruleset = rules or default_rules()  # loaded (once) before the clock starts
    try:
        return _check(text, ruleset, time.monotonic() + timeout)
    except TimeoutError:
        return Result(Outcome.HOLD, (), incomplete=True)


def _check(text: str, rules: RuleSet | None, deadline: float) -> Result:
    if time.monotonic() >= deadline:
        raise TimeoutError("no time to check")
    ruleset = rules or default_rules()
    norm = normalise(text)
    plain = norm.text
    # On plain ASCII text, lower-casing agrees with the regex engine's case-blindness, so a
    # rule none of whose leading literals occur cannot fire and is skipped.
    lowered = plain.lower() if plain.isascii() else None
    active, present = ruleset._gates.scan(lowered) if lowered is not None else (None, None)
    findings: list[Finding] = []
    # The rules that can fire, in order: those some of whose literals occur, and those
    # without literals (they always run).
    order = (
        range(len(ruleset.rules)) if active is None else sorted(ruleset._ungated | active.keys())
    )
    for i in order:
        rule = ruleset.rules[i]
        parts = None if active is None or rule.gate is None else active[i]
        hits = _hits(rule, plain, deadline, parts, lowered)
        if not hits:
            continue
        suggestion = _suggest(rule, plain) if rule.swaps else None
        for hit in hits:
            start, end = norm.span(hit.start, hit.end)
            findings.append(
                Finding(
                    rule.id,
                    rule.category,
                    ruleset.outcome_of(rule),
                    start,
                    end,
                    rule.message,
                    suggestion,
                    match=text[start:end],
                    cites=rule.cites,
                    context=hit.context,
                    pack=rule.pack,
                )
            )
    if ruleset.registry is not None:
        findings.extend(_off_label(text, norm.span, plain, ruleset, present, lowered))
    findings = _dedupe(findings)
    outcome = max((f.outcome for f in findings), key=lambda o: o.rank, default=Outcome.PASS)
    return Result(outcome, tuple(findings))


def _off_label(
    text: str,
    span: Callable[[int, int], tuple[int, int]],
    plain: str,
    ruleset: RuleSet,
    present: set[str] | None = None,
    lowered: str | None = None,
) -> list[Finding]:
    """A product named in the same clause as a use outside its label.

    `present` (the literals found by the rule set's scan) and `lowered` (see `_hits`) let
    products not named, or no cue of which occurs, be passed over.
    """
    assert ruleset.registry is not None
    found = []
    outcome = ruleset.actions.get("off_label", Outcome.HOLD)
    for product, off_label, names, cues in ruleset._off_label_products:
        if present is not None and (
            (names[0] not in present and names[1] not in present)
            or (lowered is not None and not _may_occur(cues, lowered))
        ):
            continue
        for name in product.names.finditer(plain):
            lo, hi = _clause_bounds(plain, name.start(), name.end())
            for cue in off_label.finditer(plain, lo, hi):
                before = plain[max(lo, cue.start() - _LABEL_TALK_SPAN) : cue.start()]
                after = plain[cue.end() : min(hi, cue.end() + _LABEL_TALK_SPAN)]
                if _LABEL_TALK_BEFORE.search(before) or _LABEL_TALK_AFTER.search(after):
                    continue
                start, end = span(cue.start(), cue.end())
                found.append(
                    Finding(
                        OFF_LABEL_RULE,
                        "off_label",
                        outcome,
                        start,
                        end,
                        f"{product.brand} is approved for {product.approved}; talk of other "
                        "uses needs review by Regulatory Affairs.",
                        None,
                        match=text[start:end],
                        cites="21 CFR 202.1(e)(4); PhRMA Code section 1",
                        context=name.group(0),
                        pack="registry",
                    )
                )
    return found


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per category and stretch of text: overlapping ones say the same thing."""
    out: list[Finding] = []
    # The registry knows the product's label, so its finding explains more than a pack's.
    ranked = sorted(findings, key=lambda f: (f.rule != OFF_LABEL_RULE, f.start, f.start - f.end))
    for f in ranked:
        if not any(g.category == f.category and g.start < f.end and f.start < g.end for g in out):
            out.append(f)
    return sorted(out, key=lambda f: (f.start, f.rule))


def _suggest(rule: Rule, text: str) -> str:
    for pattern, replacement in rule.swaps:
        text = pattern.sub(replacement, text)
    return text


def redact(text: str, result: Result) -> str:
    """`text` with patient identifiers replaced by their type, for storage."""
    spans = sorted((f.start, f.end) for f in result.findings if f.category in _PII_CATEGORIES)
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out = text
    for start, end in reversed(merged):
        out = out[:start] + "[patient identifier]" + out[end:]
    return out

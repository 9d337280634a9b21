"""Run rules over a normalised text: context, exceptions, suggestions, and the outcome."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from compliance_rules.model import CATEGORIES, Finding, Outcome, Result, RuleError
from compliance_rules.normalise import normalise
from compliance_rules.packs import Rule, load_pack
from compliance_rules.registry import DEFAULT as DEFAULT_REGISTRY
from compliance_rules.registry import Registry, load_registry

PACKS = Path(__file__).parent / "packs"
WINDOW = 40  # characters each side of a hit in which an exception phrase is looked for
TIMEOUT = 0.25  # seconds one check may take before the text is held for a person
_CLAUSE_END = re.compile(r"[.!?;\n]+(?:\s|$)|\s(?:but|however|whereas)\s", re.IGNORECASE)
_PII_CATEGORIES = {"phi_patient_identifier"}
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


def _hits(rule: Rule, text: str, deadline: float | None = None) -> list[Hit]:
    """Where `rule` fires in `text`, context and exceptions applied.

    Raises TimeoutError when `deadline` (a `time.monotonic()` value) passes mid-search.
    """

    def budget() -> float | None:
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(rule.id)
        return left

    hits = []
    for m in rule.pattern.finditer(text, timeout=budget()):
        start, end = m.span()
        context = None
        if rule.nearby is not None:
            lo, hi = _clause_bounds(text, start, end)
            near = rule.nearby.search(text, lo, hi, timeout=budget())
            if near is None:
                continue
            context = near.group(0)
        lo, hi = max(0, start - WINDOW), min(len(text), end + WINDOW)
        if any(
            e.start() < end and e.end() > start
            for exc in rule.exceptions
            for e in exc.finditer(text, lo, hi, timeout=budget())
        ):
            continue
        hits.append(Hit(start, end, context))
    return hits


def check(text: str, rules: RuleSet | None = None, *, timeout: float = TIMEOUT) -> Result:
    """Check `text`; findings point into `text` as given, markup and all.

    A text the rules cannot finish with in `timeout` seconds (a hostile one, built to make
    a pattern backtrack) is held for a person to read, marked incomplete.
    """
    try:
        return _check(text, rules, time.monotonic() + timeout)
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
    findings: list[Finding] = []
    for rule in ruleset.rules:
        if (
            lowered is not None
            and rule.gate is not None
            and not any(literal in lowered for literal in rule.gate)
        ):
            continue
        hits = _hits(rule, plain, deadline)
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
        findings.extend(_off_label(text, norm.span, plain, ruleset))
    findings = _dedupe(findings)
    outcome = max((f.outcome for f in findings), key=lambda o: o.rank, default=Outcome.PASS)
    return Result(outcome, tuple(findings))


def _off_label(
    text: str, span: Callable[[int, int], tuple[int, int]], plain: str, ruleset: RuleSet
) -> list[Finding]:
    """A product named in the same clause as a use outside its label."""
    assert ruleset.registry is not None
    found = []
    outcome = ruleset.actions.get("off_label", Outcome.HOLD)
    lowered = plain.lower() if plain.isascii() else None
    for product in ruleset.registry.products:
        if product.off_label is None:
            continue
        if lowered is not None and not any(n in lowered for n in product.lowered_names):
            continue
        for name in product.names.finditer(plain):
            lo, hi = _clause_bounds(plain, name.start(), name.end())
            for cue in product.off_label.finditer(plain, lo, hi):
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

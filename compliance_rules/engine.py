"""Run rules over a normalised text: context, exceptions, suggestions, and the outcome."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from compliance_rules.model import Finding, Outcome, Result, RuleError
from compliance_rules.normalise import normalise
from compliance_rules.packs import Rule, load_pack

PACKS = Path(__file__).parent / "packs"
WINDOW = 40  # characters each side of a hit in which an exception phrase is looked for
_CLAUSE_END = re.compile(r"[.!?;\n]+(?:\s|$)|\s(?:but|however|whereas)\s", re.IGNORECASE)
_PII_CATEGORIES = {"phi_patient_identifier"}


class RuleSet:
    """Rules loaded from packs, with every rule's own examples already proven."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = tuple(rules)
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


def load_rules(*paths: Path) -> RuleSet:
    files = paths or tuple(sorted(PACKS.glob("*.yml")))
    rules: list[Rule] = []
    for path in files:
        rules.extend(load_pack(path))
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise RuleError(
            f"rule ids repeat across packs: {sorted({i for i in ids if ids.count(i) > 1})}"
        )
    return RuleSet(rules)


@cache
def default_rules() -> RuleSet:
    return load_rules()


def _clause(text: str, start: int, end: int) -> str:
    begin = 0
    for m in _CLAUSE_END.finditer(text, 0, start):
        begin = m.end()
    stop = _CLAUSE_END.search(text, end)
    return text[begin : stop.start() if stop else len(text)]


def _hits(rule: Rule, text: str) -> list[tuple[int, int]]:
    """Spans (in `text`) where `rule` fires, context and exceptions applied."""
    spans = []
    for m in rule.pattern.finditer(text):
        start, end = m.span()
        if rule.nearby is not None and not rule.nearby.search(_clause(text, start, end)):
            continue
        lo, hi = max(0, start - WINDOW), min(len(text), end + WINDOW)
        if any(
            e.start() + lo < end and e.end() + lo > start
            for exc in rule.exceptions
            for e in exc.finditer(text[lo:hi])
        ):
            continue
        spans.append((start, end))
    return spans


def check(text: str, rules: RuleSet | None = None) -> Result:
    """Check `text`; findings point into `text` as given, markup and all."""
    ruleset = rules or default_rules()
    norm = normalise(text)
    findings: list[Finding] = []
    for rule in ruleset.rules:
        spans = _hits(rule, norm.text)
        if not spans:
            continue
        suggestion = _suggest(rule, norm.text) if rule.swaps else None
        for start, end in spans:
            o_start, o_end = norm.span(start, end)
            findings.append(
                Finding(
                    rule.id, rule.category, rule.outcome, o_start, o_end, rule.message, suggestion
                )
            )
    findings.sort(key=lambda f: (f.start, f.rule))
    outcome = max((f.outcome for f in findings), key=lambda o: o.rank, default=Outcome.PASS)
    return Result(outcome, tuple(findings))


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

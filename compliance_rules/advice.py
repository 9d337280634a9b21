"""What to tell the writer of a stopped text: the words, why, the clause, and a rewrite."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from compliance_rules.engine import RuleSet, check
from compliance_rules.model import Finding, Outcome

_QUOTE = 80  # characters of a matched passage quoted back
_SPACES = re.compile(r"[ \t]{2,}")
_LOOSE = re.compile(r"\s+([,.;:!?])")
_PATIENTS = re.compile(r"\[patient\](?:\s*\[patient\])+")


@dataclass(frozen=True)
class Reason:
    words: str  # the matched words, as written (shortened when long)
    why: str
    cites: str | None


@dataclass(frozen=True)
class Advice:
    reasons: tuple[Reason, ...]
    rewrite: str | None  # a version the rules pass, when one can be made


def advise(text: str, findings: Sequence[Finding], rules: RuleSet | None = None) -> Advice:
    """The reasons behind each stopping finding, and a rewrite that the rules pass (the
    rule's own suggestion, else the text with patient details replaced and the flagged
    words taken out), or None when no such rewrite is found."""
    stopping = [f for f in findings if f.outcome is not Outcome.WARN]
    reasons = tuple(
        Reason(_quote(f.match or text[f.start : f.end]), f.message, f.cites) for f in stopping
    )
    if any(f.outcome is Outcome.ROUTE_PV for f in stopping) or not stopping:
        return Advice(reasons, None)
    for candidate in _candidates(text, stopping):
        if candidate.strip() and check(candidate, rules).outcome in (Outcome.PASS, Outcome.WARN):
            return Advice(reasons, candidate)
    return Advice(reasons, None)


def _candidates(text: str, findings: list[Finding]) -> list[str]:
    suggested = [f.suggestion for f in findings if f.suggestion]
    # A finding of the whole text (the second opinion's, a language no pack covers) names
    # no words to take out: the text without them would be nothing, or "[patient]".
    if any(f.start <= 0 and f.end >= len(text) for f in findings):
        return suggested[:1]
    return [*suggested[:1], _without(text, findings)]


def _without(text: str, findings: list[Finding]) -> str:
    """`text` with patient details replaced and every other flagged passage taken out."""
    out = text
    for f in sorted(findings, key=lambda f: f.start, reverse=True):
        if f.end <= f.start or f.end > len(out):
            continue
        filler = "[patient]" if f.category == "phi_patient_identifier" else ""
        out = out[: f.start] + filler + out[f.end :]
    out = _PATIENTS.sub("[patient]", out)
    return _LOOSE.sub(r"\1", _SPACES.sub(" ", out)).strip()


def _quote(words: str) -> str:
    words = " ".join(words.split())
    return words if len(words) <= _QUOTE else words[: _QUOTE - 1] + "…"

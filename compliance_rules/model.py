"""What a check returns: outcomes, findings, results, and the error a bad pack raises."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

CATEGORIES = (
    "superlative_claim",
    "unsubstantiated_comparative",
    "efficacy_overstatement",
    "safety_minimization",
    "cure_guarantee",
    "off_label",
    "phi_patient_identifier",
    "adverse_event_mention",
    "competitor_disparagement",
    "forward_looking_financial",
    "hcp_inducement",
    "offensive_language",
)
_RANK = {"pass": 0, "warn": 1, "block": 2, "hold": 3, "route_pv": 4}


class Outcome(enum.StrEnum):
    """What happens to a text; the strongest outcome of its findings wins."""

    PASS = "pass"
    WARN = "warn"
    BLOCK = "block"
    HOLD = "hold"
    ROUTE_PV = "route_pv"

    @property
    def rank(self) -> int:
        return _RANK[self.value]


@dataclass(frozen=True)
class Finding:
    rule: str
    category: str
    outcome: Outcome
    start: int  # offsets into the text given to check()
    end: int
    message: str
    suggestion: str | None = None
    match: str = ""
    cites: str | None = None
    context: str | None = None  # the context word that made the hit count, if one was needed
    pack: str = ""


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    findings: tuple[Finding, ...]
    incomplete: bool = False  # the check ran out of time; held for a person to read

    def to_dict(self) -> dict[str, Any]:
        extra = {"incomplete": True} if self.incomplete else {}
        return extra | {
            "outcome": self.outcome.value,
            "findings": [
                {
                    "rule": f.rule,
                    "category": f.category,
                    "start": f.start,
                    "end": f.end,
                    "match": f.match,
                    "message": f.message,
                    "suggestion": f.suggestion,
                    "cites": f.cites,
                }
                for f in self.findings
            ],
        }


class RuleError(ValueError):
    """A rule pack cannot be used; the message names the file, the rule and the problem."""

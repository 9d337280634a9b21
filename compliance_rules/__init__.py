"""The compliance gate: rule packs in YAML, checked against every text before it is published."""

from compliance_rules.engine import RuleSet, check, default_rules, load_rules, redact
from compliance_rules.model import Finding, Outcome, Result, RuleError

__all__ = [
    "Finding",
    "Outcome",
    "Result",
    "RuleError",
    "RuleSet",
    "check",
    "default_rules",
    "load_rules",
    "redact",
]

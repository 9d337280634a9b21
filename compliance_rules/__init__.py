"""The compliance gate: rule packs in YAML, checked against every text before it is published."""

from compliance_rules.engine import (
    RuleSet,
    check,
    default_rules,
    language_packs,
    load_rules,
    pack_path,
    redact,
)
from compliance_rules.model import CATEGORIES, Finding, Outcome, Result, RuleError

__all__ = [
    "CATEGORIES",
    "Finding",
    "Outcome",
    "Result",
    "RuleError",
    "RuleSet",
    "check",
    "default_rules",
    "language_packs",
    "load_rules",
    "pack_path",
    "redact",
]

"""What a giver is told when the compliance gate keeps a text from being posted."""

from __future__ import annotations

from collections.abc import Sequence

from compliance_rules import Finding, Outcome, RuleSet
from compliance_rules.advice import advise
from handlers import safety


def stop_message(
    outcome: Outcome,
    findings: Sequence[Finding],
    *,
    routed: bool = True,
    text: str = "",
    rules: RuleSet | None = None,
) -> str:
    """What the giver is told when the gate keeps a text from being posted: the words, the
    reason and the clause of each finding, and a rewrite the rules pass when one can be
    made; `routed`: drug safety has a destination to be told of an adverse event at."""
    advice = advise(text, findings, rules)
    if outcome is Outcome.ROUTE_PV:
        told = safety.PASSED_ON if routed else safety.NOT_ROUTED
        head = "This kudos mentions what may be an adverse event, so it was not posted. "
        head += told[0].upper() + told[1:]
    elif outcome is Outcome.HOLD:
        head = "This kudos is held for a compliance reviewer before it can be posted."
    else:
        head = "This kudos was not posted: its wording is not compliant."
    lines = [head]
    for reason in advice.reasons:
        cites = f" ({reason.cites})" if reason.cites else ""
        quoted = f"\u201c{reason.words}\u201d: " if reason.words.strip() else ""
        lines.append(f"Why: {quoted}{reason.why}{cites}")
    if not advice.reasons:
        lines.append("Why: it could not be checked automatically, so a person will read it.")
    if advice.rewrite:
        lines.append(f"Try instead: {advice.rewrite}")
    elif outcome is Outcome.BLOCK:
        lines.append("Rephrase or remove the quoted words, then send it again.")
    return "\n".join(lines)

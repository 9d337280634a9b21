"""What a giver is told when the compliance gate keeps a text from being posted."""

from __future__ import annotations

from collections.abc import Sequence

from compliance_rules import Finding, Outcome, RuleSet
from compliance_rules.advice import Reason, advise
from handlers.i18n import _


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
    lines = [_head(outcome, routed)]
    lines += [_why(reason) for reason in advice.reasons]
    if not advice.reasons:
        lines.append(_("Why: it could not be checked automatically, so a person will read it."))
    if advice.rewrite:
        lines.append(_("Try instead: {rewrite}", rewrite=advice.rewrite))
    elif outcome is Outcome.BLOCK:
        lines.append(_("Rephrase or remove the quoted words, then send it again."))
    return "\n".join(lines)


def _head(outcome: Outcome, routed: bool) -> str:
    if outcome is Outcome.ROUTE_PV and routed:
        return _(
            "This kudos mentions what may be an adverse event, so it was not posted. "
            "It has been passed to drug safety, who may contact you."
        )
    if outcome is Outcome.ROUTE_PV:
        return _(
            "This kudos mentions what may be an adverse event, so it was not posted. "
            "It was recorded, but no drug-safety destination is configured: please report it "
            "to your drug-safety team directly."
        )
    if outcome is Outcome.HOLD:
        return _("This kudos is held for a compliance reviewer before it can be posted.")
    return _("This kudos was not posted: its wording is not compliant.")


def _why(reason: Reason) -> str:
    """One finding: the words it is about (when there are any), why, and the clause cited."""
    words = reason.words if reason.words.strip() else ""
    if words and reason.cites:
        return _(
            "Why: \u201c{words}\u201d: {why} ({cites})",
            words=words,
            why=reason.why,
            cites=reason.cites,
        )
    if words:
        return _("Why: \u201c{words}\u201d: {why}", words=words, why=reason.why)
    if reason.cites:
        return _("Why: {why} ({cites})", why=reason.why, cites=reason.cites)
    return _("Why: {why}", why=reason.why)

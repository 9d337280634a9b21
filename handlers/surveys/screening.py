"""What is kept of a survey's free-text answers, and the adverse-event screen of every text
an answer carries, kept or refused."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import Session

from compliance_rules import Outcome, RuleSet, check
from handlers import safety
from handlers.clock import FixedClock
from handlers.events import Person
from handlers.i18n import _
from handlers.policy import KudosPolicy
from handlers.surveys.definitions import Survey
from storage import people
from storage.people import MemberRow


def refused_text(
    text: str,
    reporter: Person | None,
    *,
    key: str,
    session: Session,
    now: datetime,
    rules: RuleSet,
    policy: KudosPolicy,
) -> str | None:
    """Screen the text of an answer that is being refused: a possible adverse event opens a
    case (once per answer and wording) and the person is told so; else None."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    screened = safety.screen(
        text,
        reporter,
        "survey",
        session=session,
        policy=policy,
        clock=FixedClock(now),
        rules=rules,
        key=f"{key}:{digest}",
    )
    return screened.message if screened is not None else None


def screen_text(
    text: str,
    survey: Survey,
    member: MemberRow,
    *,
    session: Session,
    now: datetime,
    rules: RuleSet,
    policy: KudosPolicy,
    before: str | None = None,
) -> tuple[str, list[str], str | None]:
    """What of a free-text answer is kept, and flags; a possible adverse event opens a case
    (once: saving the same words again does not open another)."""
    text = text.strip()
    result = check(text, rules)
    flags = sorted({f.category for f in result.findings})
    kept = safety.kept_text(text, result)
    note = None
    if result.outcome is Outcome.ROUTE_PV and kept == before:
        note = (
            _("Your answer was already passed to drug safety; nothing new was sent.")
            if safety.routed(policy)
            else _not_routed()
        )
    elif result.outcome is Outcome.ROUTE_PV:
        reporter = None if survey.anonymous else member
        safety.open_case(
            session,
            source="survey",
            text=text,
            findings=result.findings,
            reporter=reporter,
            recognition_id=None,
            workspace=people.workspace_of(member),
            policy=policy,
            now=now,
        )
        note = _passed_on(survey.anonymous) if safety.routed(policy) else _not_routed()
    elif kept != text:
        note = _("Patient details were removed from your answer before it was kept.")
    return kept, flags, note


def _passed_on(anonymous: bool) -> str:
    if anonymous:
        return _(
            "Your answer mentions what may be a side effect, so it has been passed to drug "
            "safety without your name."
        )
    return _(
        "Your answer mentions what may be a side effect, so it has been passed to drug safety."
    )


def _not_routed() -> str:
    return _("Your answer mentions what may be a side effect: {why}", why=_(safety.NOT_ROUTED))

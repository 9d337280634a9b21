"""Pharmacovigilance: a possible adverse event opens a case and reaches drug safety at once."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

import compliance_rules
from compliance_rules import Finding, Outcome, Result, RuleSet
from handlers import members, messages
from handlers.clock import Clock
from handlers.events import Person
from handlers.i18n import N_, _
from handlers.messages import Template
from handlers.policy import KudosPolicy
from storage import pv_cases, queries
from storage.models import PvCase
from storage.outbox import pv_key
from storage.people import MemberRow, platform_id

# What a reporter may be told of a case that had nowhere to go: the end of a sentence
# about what they wrote, shown as `_("Your answer ...: {why}", why=_(NOT_ROUTED))`.
NOT_ROUTED = N_(
    "it was recorded, but no drug-safety destination is configured: please report it to "
    "your drug-safety team directly."
)
# A check that ran out of time (a text built to make the rules backtrack) cannot rule an
# adverse event out; a refused text has no reviewer, so a person in drug safety reads it.
_INCOMPLETE = Finding(
    "check_incomplete",
    "adverse_event_mention",
    Outcome.ROUTE_PV,
    0,
    0,
    "The compliance check ran out of time; a person should read the whole text.",
)


HELD = "[held by drug safety]"


def kept_text(text: str, result: Result) -> str:
    """What a record that is not published keeps of `text`: a possible adverse event is held
    by drug safety alone (sealed in its case; a name no rule recognises would otherwise stay
    readable here), so only a mark with a digest that tells the same words again; any other
    stopped text is kept with its patient identifiers redacted."""
    if result.outcome is Outcome.ROUTE_PV:
        digest = hashlib.sha256(text.strip().encode()).hexdigest()[:16]
        return f"{HELD[:-1]} #{digest}]"
    return compliance_rules.redact(text, result)


@dataclass(frozen=True)
class Screened:
    """A refused text that may describe an adverse event went to drug safety."""

    case_id: int | None  # None: this delivery's case was opened before
    message: str  # what to add to the refusal, a sentence of its own


def routed(policy: KudosPolicy) -> bool:
    """Whether a case has anywhere to go."""
    return bool(_destinations(policy, None))


def also_told(policy: KudosPolicy, *, anonymous: bool = False) -> str:
    """What a reporter whose refused text may describe an adverse event is truthfully told:
    whether it reached drug safety, and with their name or without it."""
    if not routed(policy):
        return _(
            "It also mentions what may be an adverse event, so it was recorded, but no "
            "drug-safety destination is configured: please report it to your drug-safety "
            "team directly."
        )
    if anonymous:
        return _(
            "It also mentions what may be an adverse event, so it has been passed to drug "
            "safety without your name."
        )
    return _(
        "It also mentions what may be an adverse event, so it has been passed to drug "
        "safety, who may contact you."
    )


def destinations(policy: KudosPolicy) -> tuple[str, ...]:
    """Where each case goes: `slack:<channel>`, `teams:<conversation>`, `webhook`, `email`
    (the webhook's URL and the mailbox are not shown)."""
    return tuple(
        platform if platform in ("webhook", "email") else f"{platform}:{channel}"
        for platform, _space, channel, _template, _extra in _destinations(policy, None)
    )


def possible_ae(text: str, rules: RuleSet | None) -> Result | None:
    """The check of `text` when it may describe an adverse event (or could not be checked
    in time), else None. Pure: an adapter runs it before resolving anyone."""
    return _as_pv(compliance_rules.check(text, rules))


def screen(
    text: str,
    reporter: Person | None,
    source: str,
    *,
    session: Session,
    policy: KudosPolicy,
    clock: Clock,
    rules: RuleSet | None,
    key: str,
    result: Result | None = None,
    member: MemberRow | None = None,
) -> Screened | None:
    """Screen a text that is being refused (too long, too fast, ...) and open a case when it
    may describe an adverse event: a company must report one however it hears of it.

    `result` is the check already made of `text` (it is not made twice); `member` is the
    reporter's member when the caller has it; no `reporter` keeps the case anonymous (a
    survey's answer). Once per `key`: a retry opens no second case.
    """
    found = _as_pv(result) if result is not None else possible_ae(text, rules)
    if found is None:
        return None
    message = also_told(policy, anonymous=reporter is None)
    if not queries.claim_inbound(session=session, key=f"{key}:pv", kind=f"pv.{source}"):
        return Screened(None, message)
    now = clock.now()
    if member is None and reporter and reporter.exists and not reporter.is_bot:
        member = members.upsert_many([reporter], session=session, now=now)[0]
    named = f"{reporter.display_name} ({reporter.user_id})" if reporter and not member else None
    case = open_case(
        session,
        source=source,
        text=text,
        findings=found.findings or (_INCOMPLETE,),
        reporter=member,
        recognition_id=None,
        workspace=reporter.workspace if reporter and reporter.platform == "slack" else None,
        policy=policy,
        now=now,
        reported_by=named,
    )
    assert case.id is not None
    return Screened(case.id, message)


def _as_pv(result: Result) -> Result | None:
    return result if result.outcome is Outcome.ROUTE_PV or result.incomplete else None


def open_case(
    session: Session,
    *,
    source: str,
    text: str,
    findings: Sequence[Finding],
    reporter: MemberRow | None,
    recognition_id: int | None,
    workspace: str | None,
    policy: KudosPolicy,
    now: datetime,
    reported_by: str | None = None,
) -> PvCase:
    """Record the case (day 0 is now) and queue every configured notification with it; with
    no destination it is recorded all the same, and `/healthz` counts it undelivered."""
    label = _label(reporter) or reported_by or "anonymous"
    case = PvCase(
        recognition_id=recognition_id,
        source=source,
        reporter_member_id=reporter.id if reporter else None,
        reporter=label[:255],
        aware_at=now,
        text="",
        rules=[f.rule for f in findings],
    )
    session.add(case)
    session.flush()
    assert case.id is not None
    # The original, sealed for the safety team; the notifications carry no copy of it (the
    # dispatcher opens the case's text as it sends them).
    redacted = compliance_rules.redact(text, Result(Outcome.ROUTE_PV, tuple(findings)))
    case.text = pv_cases.keep(text, case.id, policy.pv_vault, redacted)
    session.add(case)
    payload: dict[str, object] = {
        "case_id": case.id,
        "source": source,
        "recognition_id": recognition_id,
        "reporter": label,
        "reporter_slack_id": platform_id(reporter, "slack") if reporter else None,
        "aware_at": now.isoformat(),
        "rules": case.rules,
    }
    notices = _notices(case.id, payload, policy, workspace)
    queries.enqueue_many(session=session, messages=notices)
    queries.append_audit(
        session=session,
        actor=f"member:{reporter.id}" if reporter else "anonymous",
        action="pv.case_opened",
        subject=f"pv_case:{case.id}",
        detail={"source": source, "rules": case.rules, "notified": [m.platform for m in notices]},
        at=now,
    )
    return case


def _notices(
    case_id: int, payload: dict[str, object], policy: KudosPolicy, workspace: str | None
) -> list[queries.Message]:
    """One notification of the case for each configured destination."""
    return [
        messages.message(
            template,
            {**payload, **extra},
            key=pv_key(case_id, platform),
            platform=platform,
            workspace=space,
            channel=channel,
            kind="post",
        )
        for platform, space, channel, template, extra in _destinations(policy, workspace)
    ]


def read_texts(
    session: Session, case_ids: Sequence[int], *, policy: KudosPolicy, reader: str, now: datetime
) -> dict[int, str]:
    """The original texts of these cases, for a member of the drug-safety team (the caller
    checks the role); who read which cases is audited."""
    if not case_ids:
        return {}
    opened = pv_cases.texts(session, list(case_ids), policy.pv_vault)
    queries.append_audit(
        session=session,
        actor=reader,
        action="pv.texts_read",
        subject="pv_cases",
        detail={"cases": sorted(opened)},
        at=now,
    )
    return opened


def _label(reporter: MemberRow | None) -> str | None:
    return f"{reporter.display_name} <{reporter.email or 'no email'}>" if reporter else None


def _destinations(
    policy: KudosPolicy, workspace: str | None
) -> list[tuple[str, str | None, str, Template, dict[str, object]]]:
    """(platform, workspace, channel, template, extra data) for each configured destination."""
    found: list[tuple[str, str | None, str, Template, dict[str, object]]] = []
    if policy.safety_channel:
        found.append(("slack", workspace, policy.safety_channel, Template.PV_ALERT, {}))
    if policy.teams_safety_channel:
        found.append(("teams", None, policy.teams_safety_channel, Template.PV_ALERT, {}))
    if policy.safety_webhook:
        found.append(("webhook", None, "pv", Template.PV_CASE, {"url": policy.safety_webhook}))
    if policy.safety_email:
        found.append(("email", None, "pv", Template.PV_CASE, {"to": policy.safety_email}))
    return found

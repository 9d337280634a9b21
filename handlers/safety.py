"""Pharmacovigilance: a possible adverse event opens a case and reaches drug safety at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from compliance_rules import Finding
from handlers import messages
from handlers.messages import Template
from handlers.policy import KudosPolicy
from storage import queries
from storage.models import PvCase
from storage.people import MemberRow, platform_id


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
) -> PvCase:
    """Record the case (day 0 is now) and queue every configured notification with it."""
    label = f"{reporter.display_name} <{reporter.email or 'no email'}>" if reporter else "anonymous"
    case = PvCase(
        recognition_id=recognition_id,
        source=source,
        reporter_member_id=reporter.id if reporter else None,
        reporter=label,
        aware_at=now,
        text=text,
        rules=[f.rule for f in findings],
    )
    session.add(case)
    session.flush()
    assert case.id is not None
    payload = {
        "case_id": case.id,
        "source": source,
        "recognition_id": recognition_id,
        "reporter": label,
        "reporter_slack_id": platform_id(reporter, "slack") if reporter else None,
        "aware_at": now.isoformat(),
        "text": text,
        "rules": case.rules,
    }
    notices = [
        messages.message(
            template,
            {**payload, **extra},
            key=f"pv:{case.id}:{platform}",
            platform=platform,
            workspace=space,
            channel=channel,
            kind="post",
        )
        for platform, space, channel, template, extra in _destinations(policy, workspace)
    ]
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

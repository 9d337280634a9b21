"""Give kudos: checks, compliance gate, the recognition, and the messages it owes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session, select

import compliance_rules
from compliance_rules import Finding, Outcome, Result, RuleSet
from compliance_rules.quiet import during_quiet_periods
from handlers import members, messages, posts, review, rollout, safety, sprints
from handlers.clock import Clock, local_date
from handlers.drafts import Draft as Draft  # re-exported: kudos.draft() is the edit use case
from handlers.drafts import draft as draft
from handlers.events import KudosRequested, Person
from handlers.i18n import _
from handlers.messages import Notice, Template
from handlers.policy import KudosPolicy
from handlers.refusals import NOT_YOURSELF, validate
from handlers.refusals import Refused as Refused  # re-exported: a result of give()
from handlers.stops import stop_message as stop_message  # re-exported
from storage import kudos_writes, people, queries
from storage.models import Recognition
from storage.models.recognition import PUBLISHED
from storage.people import MemberRow


@dataclass(frozen=True)
class Recorded:
    """The kudos is stored and its posts are queued."""

    recognition_id: int
    recipients: tuple[str, ...]
    allowance_left: int
    warnings: tuple[Finding, ...] = ()
    private: bool = False


@dataclass(frozen=True)
class Stopped:
    """The compliance gate kept the text from being published."""

    outcome: Outcome
    findings: tuple[Finding, ...]
    message: str
    recognition_id: int


@dataclass(frozen=True)
class Duplicate:
    """This delivery was handled before; nothing changed."""


KudosResult = Recorded | Refused | Stopped | Duplicate


def give(
    event: KudosRequested,
    *,
    session: Session,
    policy: KudosPolicy,
    clock: Clock,
    rules: RuleSet | None = None,
) -> KudosResult:
    """Record a kudos from `event.giver` to `event.recipients`, or say why not. The delivery
    is claimed first (a redelivery is a duplicate), reserving the recognition's id; a
    refusal gives the claim back, so it leaves nothing."""
    recognition_id = kudos_writes.claim(
        session=session, key=event.key, kind=f"kudos.{event.source}"
    )
    if recognition_id is None:
        return Duplicate()
    # Checked before anything can refuse it: an adverse event must reach drug safety
    # however it arrives, and this one check serves the gate below as well.
    result = compliance_rules.check(event.message, rules)
    if policy.quiet_periods:  # held for a reviewer if it names what a quiet period covers
        day = clock.now().astimezone(UTC).date()
        result = during_quiet_periods(result, event.message, policy.quiet_periods, day, rules)
    refusal = _not_on(session, event, policy, clock) or validate(event, policy)
    if refusal:
        return _refuse(session, event, refusal, result, policy, clock, None)
    now = clock.now()
    giver, *found = members.upsert_many([event.giver, *event.recipients], session=session, now=now)
    recipients = _unique(found)
    day = local_date(now, giver.timezone)
    checked = _between(session, event, policy, giver, recipients, day)
    if isinstance(checked, Refused):
        return _refuse(session, event, checked, result, policy, clock, giver)
    event = checked
    # The giver's row, locked: a second kudos of theirs (at another replica) waits here and
    # then counts this one, so the allowance holds exactly.
    people.hold(session=session, member_id=giver.id)
    left = policy.daily_allowance - queries.points_given_on(
        session=session, giver_id=giver.id, day=day
    )
    if len(recipients) > left:
        refusal = _over_allowance(policy, left, len(recipients))
        return _refuse(session, event, refusal, result, policy, clock, giver)
    published = result.outcome in PUBLISHED
    text = event.message if published else safety.kept_text(event.message, result)
    recognition, audit = _rows(event, giver, recipients, result, text, day, now, rules)
    recognition["id"] = recognition_id
    audit["subject"] = f"recognition:{recognition_id}"
    if not published:
        queries.insert_recognition(
            session=session, values=recognition, recipients=[r.id for r in recipients]
        )
        queries.append_audit(session=session, **audit)
        return _stop(session, event, policy, giver, result, recognition_id, now, rules)
    _publish(session, event, policy, giver, recipients, recognition, audit)
    warnings = tuple(f for f in result.findings if f.outcome is Outcome.WARN)
    names = tuple(r.display_name for r in recipients)
    return Recorded(recognition_id, names, left - len(recipients), warnings, event.private)


def _stop(
    session: Session,
    event: KudosRequested,
    policy: KudosPolicy,
    giver: MemberRow,
    result: Result,
    recognition_id: int,
    now: datetime,
    rules: RuleSet | None,
) -> Stopped:
    """A stored kudos the gate stopped: a possible adverse event goes to drug safety, a
    held text to the reviewers, and the giver is told why."""
    if result.outcome is Outcome.ROUTE_PV:
        safety.open_case(
            session,
            source="kudos",
            text=event.message,
            findings=result.findings,
            reporter=giver,
            recognition_id=recognition_id,
            workspace=event.giver.workspace,
            policy=policy,
            now=now,
        )
    elif result.outcome is Outcome.HOLD:
        held = session.get(Recognition, recognition_id)
        assert held is not None
        rules_hit = ",".join(f.rule for f in result.findings if f.outcome is Outcome.HOLD)
        review.open_review(session, held, requested_by=f"rules:{rules_hit}", policy=policy, now=now)
    message = stop_message(
        result.outcome,
        result.findings,
        routed=safety.routed(policy),
        text=event.message,
        rules=rules,
    )
    return Stopped(result.outcome, result.findings, message, recognition_id)


def _refuse(
    session: Session,
    event: KudosRequested,
    refusal: Refused,
    result: Result,
    policy: KudosPolicy,
    clock: Clock,
    giver: MemberRow | None,
) -> Refused:
    """The refusal; a text that may describe an adverse event opens a case all the same."""
    kudos_writes.release(session=session, key=event.key)
    screened = safety.screen(
        event.message,
        event.giver,
        "kudos",
        session=session,
        policy=policy,
        clock=clock,
        rules=None,
        key=event.key,
        result=result,
        member=giver,
    )
    if screened is None:
        return refusal
    return Refused(refusal.reason, f"{refusal.message}\n{screened.message}", True)


def _between(
    session: Session,
    event: KudosRequested,
    policy: KudosPolicy,
    giver: MemberRow,
    recipients: list[MemberRow],
    day: date,
) -> KudosRequested | Refused:
    """The kudos as it may be given between these members, or why not: not to oneself
    (under another identity), and only where Plaudit is on for all of them (`rollout:`).
    A shadow cohort's kudos is measured but not announced: given as a private one is."""
    if any(r.id == giver.id for r in recipients):
        return Refused("self", _(NOT_YOURSELF))
    pilot = rollout.gate(session, policy.rollout, giver, recipients, day)
    if pilot.refusal:
        return Refused(*pilot.refusal)
    return replace(event, private=True) if pilot.shadow else event


def _not_on(
    session: Session, event: KudosRequested, policy: KudosPolicy, clock: Clock
) -> Refused | None:
    """Plaudit is not on for the giver yet (`rollout:`): the first thing they are told."""
    if policy.rollout is None or not policy.rollout.gating:
        return None
    giver = members.find(event.giver, session=session)
    day = local_date(clock.now(), giver.timezone if giver else event.giver.timezone)
    why = rollout.giver_refusal(session, policy.rollout, giver, event.giver.email, day)
    return Refused(*why) if why else None


def _over_allowance(policy: KudosPolicy, left: int, needed: int) -> Refused:
    return Refused(
        "allowance",
        _(
            "You have {left} of {allowance} kudos left today and this needs {needed}. "
            "Your allowance resets at midnight your time.",
            left=max(left, 0),
            allowance=policy.daily_allowance,
            needed=needed,
        ),
    )


def _rows(
    event: KudosRequested,
    giver: MemberRow,
    recipients: list[MemberRow],
    result: Result,
    text: str,
    day: date,
    now: datetime,
    rules: RuleSet | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The recognition's columns (its text redacted unless published) and its audit entry
    (`subject` still to name the recognition)."""
    text_sha256 = hashlib.sha256(event.message.encode()).hexdigest()
    recognition = {
        "dedupe_key": event.key,
        "giver_id": giver.id,
        "text": text,
        "text_sha256": text_sha256,
        "value_tags": list(event.values),
        "source": event.source,
        "platform": event.giver.platform,
        "workspace": event.giver.workspace,
        "channel_id": event.channel_id,
        "reactions": [],
        "outcome": result.outcome.value,
        "findings": [_finding_dict(f) for f in result.findings],
        "giver_local_date": day,
        "created_at": now,
        "private": event.private,
        "permalink": event.link,
    }
    audit = {
        "actor": _actor(giver),
        "action": f"kudos.{result.outcome.value}",
        "subject": "",
        "detail": {
            "recipients": [r.id for r in recipients],
            "values": list(event.values),
            **({"private": True} if event.private else {}),
            "rules": [f.rule for f in result.findings],
            "text_sha256": text_sha256,
            "packs": list((rules or compliance_rules.default_rules()).packs),
        },
        "at": now,
    }
    return recognition, audit


def _publish(
    session: Session,
    event: KudosRequested,
    policy: KudosPolicy,
    giver: MemberRow,
    recipients: list[MemberRow],
    recognition: dict[str, Any],
    audit: dict[str, Any],
) -> None:
    """Store a published kudos with its audit entry, its count on the sprint board and its
    post and DMs: every row built first, then written together (`storage.kudos_writes`)."""
    recipient_ids = [r.id for r in recipients]
    totals = sprints.tally_rows(
        policy.sprints,
        at=recognition["created_at"],
        giver_id=giver.id,
        recipient_ids=recipient_ids,
        tags=event.values,
    )
    post = posts.Post(
        recognition["id"],
        event.source,
        recognition["text"],
        event.values,
        event.channel_id,
        permalink=event.link,
        platform=event.giver.platform,
        private=event.private,
    )
    messages = posts.post_messages(post, giver, recipients, policy)
    messages += posts.manager_notices(session, post, giver, recipients, policy)
    rows = kudos_writes.Published(recognition, recipient_ids, audit, totals, messages)
    kudos_writes.write(session=session, rows=rows)


def _unique(found: list[MemberRow]) -> list[MemberRow]:
    seen: dict[int, MemberRow] = {}
    for member in found:
        seen.setdefault(member.id, member)
    return list(seen.values())


def _actor(member: MemberRow) -> str:
    return f"member:{member.id}"


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "category": f.category,
        "outcome": f.outcome.value,
        "start": f.start,
        "end": f.end,
        "message": f.message,
        "suggestion": f.suggestion,
    }


def notify(
    session: Session,
    *,
    key: str,
    person: Person,
    channel_id: str,
    text: str,
) -> None:
    """Queue a private notice for `person`: ephemeral in `channel_id`, or a DM when that is
    the person's own id (no channel to be private in)."""
    notice: Notice = {"text": text}
    queries.enqueue(
        session=session,
        message=messages.message(
            Template.NOTICE,
            notice,
            key=key,
            platform=person.platform,
            workspace=person.workspace,
            channel=channel_id,
            kind="dm" if channel_id == person.user_id else "ephemeral",
            user=person.user_id,
        ),
    )


def find_recognition(session: Session, key: str, *, lock: bool = False) -> Recognition | None:
    """The recognition recorded under `key`; `lock`: as committed now, locked to the end of
    the transaction (two replicas changing it take turns; neither loses a change)."""
    query = select(Recognition).where(Recognition.dedupe_key == key)
    if lock:
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    return session.exec(query).first()

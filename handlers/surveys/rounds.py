"""Survey rounds: open one per period, deliver and remind, close, and find rounds.

Every step is keyed so running it twice does nothing twice: a round is unique per
(survey, period), and each invitation and reminder is an outbox row with its own key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from handlers import messages, posts
from handlers.events import Person
from handlers.messages import Template
from handlers.rollout import Rollout, surveyed
from handlers.surveys.definitions import Audience, Survey, survey_from_json
from handlers.surveys.erasure import forget_respondents
from handlers.surveys.results import Results, results
from handlers.surveys.schedule import local_send_time
from storage import maintenance, people, queries
from storage.models import Member, SurveyInvite, SurveyRound


@dataclass(frozen=True)
class Opened:
    round_id: int
    number: int
    invited: int
    due_now: int


@dataclass(frozen=True)
class AlreadyOpen:
    round_id: int


@dataclass(frozen=True)
class Skipped:
    reason: str


# -- opening --------------------------------------------------------------------------------


def open_round(
    survey: Survey,
    *,
    session: Session,
    now: datetime,
    period: str,
    opened_by: str = "schedule",
    local_day: date | None = None,
    closes_at: datetime | None = None,
    channel_members: Iterable[Person | str] | None = None,
    rollout: Rollout | None = None,
) -> Opened | AlreadyOpen | Skipped:
    """Open the round for `period` once, invite the audience and queue what is due now.

    `channel_members`: the people in the audience's channel, when it names one; `rollout`:
    the pilot cohorts (nobody Plaudit is off for is invited)."""
    existing = _round_id(session, survey.id, period)
    if existing is not None:
        return AlreadyOpen(existing)
    audience = _audience(session, survey.audience, channel_members)
    members = surveyed(rollout, audience, local_day or now.date())
    if not members:
        return Skipped("nobody is in the audience")
    sends = {
        m.id: (
            local_send_time(local_day, survey.schedule.local_time, m.timezone)
            if local_day is not None and survey.schedule.local_time is not None
            else now
        )
        for m in members
        if m.id is not None
    }
    ends = closes_at or max(now, max(sends.values())) + survey.open_for
    if ends <= now:
        return Skipped("the round would already be over")
    round_ = _new_round(session, survey, period=period, opened_by=opened_by, now=now, ends=ends)
    if isinstance(round_, AlreadyOpen):
        return round_
    assert round_.id is not None
    session.connection().execute(
        SurveyInvite.__table__.insert(),  # type: ignore[attr-defined]
        [{"round_id": round_.id, "member_id": m, "send_at": at} for m, at in sends.items()],
    )
    number = round_.number
    queries.append_audit(
        session=session,
        actor=opened_by,
        action="survey.round_opened",
        subject=f"survey_round:{round_.id}",
        detail={"survey": survey.id, "period": period, "number": number, "invited": len(sends)},
        at=now,
    )
    due = deliver_due(session=session, now=now, round_id=round_.id)
    return Opened(round_.id, number, len(sends), due)


def _round_id(session: Session, survey_id: str, period: str) -> int | None:
    return session.exec(
        select(SurveyRound.id).where(
            SurveyRound.survey_id == survey_id, SurveyRound.period == period
        )
    ).first()


def _new_round(
    session: Session, survey: Survey, *, period: str, opened_by: str, now: datetime, ends: datetime
) -> SurveyRound | AlreadyOpen:
    """The survey's next round, numbered on from the last; AlreadyOpen when another
    replica opened it for `period` a moment ago."""
    number = (
        session.exec(
            select(func.max(col(SurveyRound.number))).where(SurveyRound.survey_id == survey.id)
        ).one()
        or 0
    ) + 1
    round_ = SurveyRound(
        survey_id=survey.id,
        period=period,
        number=number,
        definition=survey.as_json(),
        anonymous=survey.anonymous,
        opened_by=opened_by,
        opened_at=now,
        closes_at=ends,
        # No key is written: an anonymous round's respondent tokens are keyed by a secret
        # kept outside the database (see `answers.respondent_token`).
        salt=None,
    )
    try:
        with session.begin_nested():
            session.add(round_)
            session.flush()
    except IntegrityError:
        found = _round_id(session, survey.id, period)
        if found is None:
            raise
        return AlreadyOpen(found)
    return round_


def _audience(
    session: Session, audience: Audience, channel_members: Iterable[Person | str] | None
) -> list[Member]:
    stmt = select(Member).where(
        col(Member.active).is_(True),
        col(Member.is_bot).is_(False),
        # Only people the bot can reach: surveys are delivered as Slack or Teams DMs.
        people.reachable(),
    )
    if audience.teams:
        stmt = stmt.where(col(Member.team).in_(audience.teams))
    if audience.regions:
        stmt = stmt.where(col(Member.region).in_(audience.regions))
    if audience.therapeutic_areas:
        stmt = stmt.where(col(Member.therapeutic_area).in_(audience.therapeutic_areas))
    members = list(session.exec(stmt.order_by(col(Member.id))))
    if channel_members is not None:
        members = _in_channel(members, channel_members)
    return members


def _in_channel(members: list[Member], channel_members: Iterable[Person | str]) -> list[Member]:
    """Those of `members` in the channel: people as the adapter resolved them, or bare
    user ids as a Slack channel lists them."""
    wanted: dict[str, set[str]] = {}
    for entry in channel_members:
        platform, user_id = (
            (entry.platform, entry.user_id) if isinstance(entry, Person) else ("slack", entry)
        )
        wanted.setdefault(platform, set()).add(user_id)
    return [
        m
        for m in members
        if any(people.platform_id(m, platform) in ids for platform, ids in wanted.items())
    ]


# -- delivery and reminders -----------------------------------------------------------------


def invite_payload(round_: SurveyRound, *, reminder: int = 0) -> dict[str, Any]:
    survey = round_.definition
    return {
        "round_id": round_.id,
        "survey_id": round_.survey_id,
        "number": round_.number,
        "title": survey["title"],
        "intro": survey.get("intro", ""),
        "questions": survey["questions"],
        "anonymous": round_.anonymous,
        "closes_at": round_.closes_at.isoformat(),
        "reminder": reminder,
        "answers": {},
    }


def _dm(
    member: Member, key: str, template: Template, data: dict[str, Any]
) -> queries.Message | None:
    """A survey DM in Slack, or in Teams for someone who uses only Teams."""
    return posts.dm(member, key=key, template=template, data=data)


def deliver_due(*, session: Session, now: datetime, round_id: int | None = None) -> int:
    """Queue one invitation per invite whose time has come; returns how many.

    The outbox rows and the `sent_at` marks commit together, so a crash part-way leaves
    either both or neither, and the outbox keys make a second run harmless."""
    stmt = (
        select(SurveyInvite, SurveyRound, Member)
        .join(SurveyRound, col(SurveyRound.id) == col(SurveyInvite.round_id))
        .join(Member, col(Member.id) == col(SurveyInvite.member_id))
        .where(
            col(SurveyInvite.sent_at).is_(None),
            SurveyInvite.send_at <= now,
            SurveyRound.status == "open",
            SurveyRound.closes_at > now,
        )
    )
    if round_id is not None:
        stmt = stmt.where(SurveyInvite.round_id == round_id)
    queued: list[queries.Message] = []
    sent: list[int] = []
    payloads: dict[int, dict[str, Any]] = {}
    for invite, round_, member in session.exec(stmt):
        assert round_.id is not None and invite.id is not None
        data = payloads.setdefault(round_.id, invite_payload(round_))
        message = _dm(
            member, f"survey:{round_.id}:{member.id}:invite", Template.SURVEY_INVITE, data
        )
        if message is not None:
            queued.append(message)
        sent.append(invite.id)
    if not sent:
        return 0
    queries.enqueue_many(session=session, messages=queued)
    table = SurveyInvite.__table__  # type: ignore[attr-defined]
    for start in range(0, len(sent), 500):
        session.connection().execute(
            update(table).where(table.c.id.in_(sent[start : start + 500])).values(sent_at=now)
        )
    return len(queued)


def remind_due(*, session: Session, now: datetime) -> int:
    """Remind those who have not answered, at most `max_reminders` times per round."""
    stmt = (
        select(SurveyInvite, SurveyRound, Member)
        .join(SurveyRound, col(SurveyRound.id) == col(SurveyInvite.round_id))
        .join(Member, col(Member.id) == col(SurveyInvite.member_id))
        .where(
            col(SurveyInvite.sent_at).is_not(None),
            col(SurveyInvite.responded).is_(False),
            SurveyRound.status == "open",
            SurveyRound.closes_at > now,
        )
    )
    queued: list[queries.Message] = []
    for invite, round_, member in session.exec(stmt):
        survey = round_.definition
        every = survey.get("remind_after")
        if not every or invite.reminders_sent >= int(survey.get("max_reminders", 0)):
            continue
        last = invite.last_reminded_at or invite.sent_at
        assert last is not None
        if last + timedelta(seconds=every) > now:
            continue
        number = invite.reminders_sent + 1
        data = invite_payload(round_, reminder=number)
        message = _dm(
            member,
            f"survey:{round_.id}:{member.id}:reminder:{number}",
            Template.SURVEY_INVITE,
            data,
        )
        invite.reminders_sent, invite.last_reminded_at = number, now
        session.add(invite)
        if message is not None:
            queued.append(message)
    return queries.enqueue_many(session=session, messages=queued)


# -- closing and finding rounds -------------------------------------------------------------


def close_round(
    round_id: int, *, session: Session, now: datetime, closed_by: str = "schedule"
) -> Results | None:
    """Close an open round once, queue the results; None if already closed. An anonymous
    round's answers are unlinked from its members (and a salt kept by a round opened before
    the survey secret existed is erased)."""
    # The salt's bytes must not stay behind in SQLite's free space.
    maintenance.overwrite_freed(session)
    table = SurveyRound.__table__  # type: ignore[attr-defined]
    changed = session.connection().execute(
        update(table)
        .where(table.c.id == round_id, table.c.status == "open")
        .values(status="closed", closed_at=now, salt=None)
    )
    if not changed.rowcount:
        return None
    if session.exec(select(SurveyRound.anonymous).where(SurveyRound.id == round_id)).one():
        forget_respondents(session, round_id)
    session.expire_all()
    summary = results(session, round_id)
    round_ = session.get(SurveyRound, round_id)
    assert round_ is not None
    survey = survey_from_json(round_.definition)
    data = summary.as_json()
    queued: list[queries.Message] = []
    workspace = people.any_workspace(session)
    if survey.results_channel:
        queued.append(
            messages.message(
                Template.SURVEY_RESULTS,
                data,
                key=f"survey:{round_id}:results:channel",
                platform="slack",
                workspace=workspace,
                channel=survey.results_channel,
                kind="post",
            )
        )
    for owner in _owners(session, survey.owners):
        message = _dm(
            owner, f"survey:{round_id}:results:owner:{owner.id}", Template.SURVEY_RESULTS, data
        )
        if message is not None:
            queued.append(message)
    queries.enqueue_many(session=session, messages=queued)
    queries.append_audit(
        session=session,
        actor=closed_by,
        action="survey.round_closed",
        subject=f"survey_round:{round_id}",
        detail={
            "survey": survey.id,
            "invited": summary.invited,
            "respondents": summary.respondents,
            "hidden": summary.hidden,
        },
        at=now,
    )
    return summary


def _owners(session: Session, owners: Sequence[str]) -> list[Member]:
    if not owners:
        return []
    emails = [o.lower() for o in owners if "@" in o]
    ids = [o for o in owners if "@" not in o]
    stmt = select(Member).where(
        func.lower(col(Member.email)).in_(emails) | people.has_platform_id("slack", ids)
    )
    return list(session.exec(stmt.order_by(col(Member.id))))


def close_due(*, session: Session, now: datetime) -> list[int]:
    """Close every open round whose time is up."""
    due = list(
        session.exec(
            select(SurveyRound.id).where(SurveyRound.status == "open", SurveyRound.closes_at <= now)
        )
    )
    return [r for r in due if r is not None and close_round(r, session=session, now=now)]


def latest_round(session: Session, survey_id: str, number: int | None = None) -> SurveyRound | None:
    stmt = select(SurveyRound).where(SurveyRound.survey_id == survey_id)
    if number is not None:
        stmt = stmt.where(SurveyRound.number == number)
    return session.exec(stmt.order_by(col(SurveyRound.number).desc()).limit(1)).first()


def open_rounds(session: Session, survey_id: str) -> list[SurveyRound]:
    return list(
        session.exec(
            select(SurveyRound)
            .where(SurveyRound.survey_id == survey_id, SurveyRound.status == "open")
            .order_by(col(SurveyRound.number))
        )
    )

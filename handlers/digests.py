"""Weekly manager digests: what a manager's direct reports received and gave, who has had
no recognition for a while, the team's sprint standing, survey participation, reviews.

A digest goes out at a local time on each manager's own clock (default Monday 09:00),
once per manager and week: the run is keyed in `scheduled_run` and the message in the
outbox. A manager whose time passed more than a day ago (new this week, or the bot was
down) waits for the next week rather than getting a late one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from handlers import cross_functional, posts
from handlers.clock import zone
from handlers.i18n import _, joined, n_, speaking
from handlers.messages import Template
from handlers.policy import KudosPolicy
from handlers.surveys import results
from storage import queries
from storage.models import (
    LeaderboardTotal,
    Member,
    Recognition,
    RecognitionRecipient,
    Review,
    ScheduledRun,
    SurveyRound,
)
from storage.models.recognition import PUBLISHED
from storage.people import platform_id

QUIET_DAYS = 30


@dataclass(frozen=True)
class DigestSchedule:
    weekday: int = 0  # Monday
    at: time = time(9, 0)
    empty: str = "note"  # note | skip
    least: int = cross_functional.MIN_GROUP  # the anonymity threshold (collaboration.threshold)


@dataclass(frozen=True)
class Highlight:
    giver: str
    recipients: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Digest:
    manager: str
    manager_slack_id: str | None
    week: str
    since: str
    reports: int
    received: int
    given: int
    top_values: tuple[tuple[str, int], ...] = ()
    highlights: tuple[Highlight, ...] = ()
    quiet: tuple[str, ...] = ()  # reports with no recognition in QUIET_DAYS days
    team: str | None = None
    team_rank: int | None = None
    team_points: int | None = None
    sprint: str | None = None
    survey: dict[str, Any] | None = None  # title, participation, enps (when allowed)
    reviews_pending: int | None = None  # for reviewers only
    cross_functional: dict[str, int] | None = None  # this month (cross_functional.team_month)

    @property
    def empty(self) -> bool:
        return not (self.received or self.given or self.quiet or self.reviews_pending)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def lines(d: Digest) -> list[str]:
    """The digest as plain lines (chat text and `plaudit digest preview`), in the current
    language."""
    # i18n: the English keeps one plural wording for every count; use your language's forms
    head = n_(
        "Your team's week ({since} to today), {n} direct reports",
        "Your team's week ({since} to today), {n} direct reports",
        d.reports,
        since=d.since,
    )
    out = [head]
    if d.empty:
        out.append(_("A quiet week: no kudos to or from your team."))
        return out
    out.append(
        _("Kudos received: {received}. Kudos given: {given}.", received=d.received, given=d.given)
    )
    out.extend(cross_functional.digest_line(d.cross_functional))
    if d.top_values:
        shown = joined(_("{value} ({count})", value=tag, count=n) for tag, n in d.top_values)
        out.append(_("Top values: {values}", values=shown))
    out.extend(_highlight(h) for h in d.highlights)
    if d.quiet:
        out.append(
            n_(
                "No recognition in {n} day: {names}. A word of thanks goes a long way.",
                "No recognition in {n} days: {names}. A word of thanks goes a long way.",
                QUIET_DAYS,
                names=joined(d.quiet),
            )
        )
    if d.team_rank is not None:
        out.append(
            _(
                "Team {team} is #{rank} in sprint {sprint} ({points} pts).",
                team=d.team,
                rank=d.team_rank,
                sprint=d.sprint,
                points=d.team_points,
            )
        )
    if d.survey:
        out.append(_survey_line(d.survey))
    if d.reviews_pending:
        # i18n: the English keeps one plural wording for every count; use your language's forms
        out.append(
            n_(
                "{n} kudos wait for your compliance review.",
                "{n} kudos wait for your compliance review.",
                d.reviews_pending,
            )
        )
    return out


def _highlight(h: Highlight) -> str:
    recipients = joined(h.recipients)
    return _(
        '"{text}" - {giver} to {recipients}', text=h.text, giver=h.giver, recipients=recipients
    )


def _survey_line(survey: dict[str, Any]) -> str:
    """The latest survey's line: its title, the team's share that answered, and its eNPS."""
    share = f"{survey['participation']:.0%}"
    if survey.get("enps") is None:
        return _("{title}: {share} of your team answered.", title=survey["title"], share=share)
    score = f"{survey['enps']:+d}"
    return _(
        "{title}: {share} of your team answered, eNPS {enps}.",
        title=survey["title"],
        share=share,
        enps=score,
    )


def _week(day: date) -> str:
    return "{}-W{:02d}".format(*day.isocalendar()[:2])


def send_time(manager: Member, now: datetime, schedule: DigestSchedule) -> datetime:
    """This week's send time on the manager's clock, as UTC."""
    local = now.astimezone(zone(manager.timezone))
    monday = local.date() - timedelta(days=local.weekday())
    day = monday + timedelta(days=schedule.weekday)
    return datetime.combine(day, schedule.at, tzinfo=zone(manager.timezone)).astimezone(UTC)


def managers(session: Session) -> list[Member]:
    """Active members who are someone's manager."""
    ids = select(Member.manager_id).where(
        col(Member.manager_id).is_not(None), col(Member.active).is_(True)
    )
    stmt = select(Member).where(col(Member.id).in_(ids), col(Member.active).is_(True))
    return list(session.exec(stmt.order_by(col(Member.id))))


def build(
    session: Session, manager: Member, *, now: datetime, policy: KudosPolicy, least: int = 5
) -> Digest | None:
    """The digest for `manager` covering the seven days before `now`; None without reports."""
    reports = list(
        session.exec(
            select(Member)
            .where(Member.manager_id == manager.id, col(Member.active).is_(True))
            .order_by(col(Member.display_name))
        )
    )
    if not reports:
        return None
    ids = [r.id for r in reports if r.id is not None]
    since = now - timedelta(days=7)
    received, values, highlights = _received(session, ids, since)
    given = session.exec(
        select(func.count(col(RecognitionRecipient.id)))
        .join(Recognition, col(Recognition.id) == col(RecognitionRecipient.recognition_id))
        .where(col(Recognition.giver_id).in_(ids), Recognition.created_at >= since, *_COUNTED)
    ).one()
    return Digest(
        manager=manager.display_name,
        manager_slack_id=platform_id(manager, "slack"),
        week=_week(now.astimezone(zone(manager.timezone)).date()),
        since=since.astimezone(zone(manager.timezone)).date().isoformat(),
        reports=len(reports),
        received=received,
        given=int(given),
        top_values=tuple(values.most_common(3)),
        highlights=highlights,
        quiet=_quiet(session, reports, ids, now),
        **_standing(session, manager, now=now, policy=policy),
        survey=_survey(session, manager),
        reviews_pending=_reviews(session, manager, policy),
        cross_functional=cross_functional.for_manager(session, ids, manager, now=now, least=least),
    )


_COUNTED = (col(Recognition.outcome).in_(PUBLISHED), col(Recognition.revoked_at).is_(None))
"""A recognition counts once published and while not taken back."""


def _received(
    session: Session, ids: list[int], since: datetime
) -> tuple[int, Counter[str], tuple[Highlight, ...]]:
    """Recognitions the reports received since `since`: count, values, three highlights."""
    received_rows = session.exec(
        select(Recognition, RecognitionRecipient.member_id)
        .join(RecognitionRecipient, col(RecognitionRecipient.recognition_id) == col(Recognition.id))
        .where(
            col(RecognitionRecipient.member_id).in_(ids),
            Recognition.created_at >= since,
            *_COUNTED,
        )
        .order_by(col(Recognition.created_at).desc())
    ).all()
    names = {m.id: m.display_name for m in session.exec(select(Member))}
    values: Counter[str] = Counter()
    highlights: list[Highlight] = []
    seen: set[int] = set()
    for recognition, _member in received_rows:
        if recognition.id in seen:
            continue
        seen.add(recognition.id or 0)
        values.update(t.lower() for t in recognition.value_tags)
        if recognition.text and not recognition.private and len(highlights) < 3:
            to = tuple(
                names.get(m, _("someone"))
                for m in session.exec(
                    select(RecognitionRecipient.member_id).where(
                        RecognitionRecipient.recognition_id == recognition.id
                    )
                )
            )
            text = (
                recognition.text if len(recognition.text) <= 200 else recognition.text[:197] + "..."
            )
            highlights.append(Highlight(names.get(recognition.giver_id, _("someone")), to, text))
    return len(seen), values, tuple(highlights)


def _quiet(
    session: Session, reports: list[Member], ids: list[int], now: datetime
) -> tuple[str, ...]:
    """Reports with no recognition in QUIET_DAYS days (and members for at least as long)."""
    quiet_since = now - timedelta(days=QUIET_DAYS)
    recently = set(
        session.exec(
            select(RecognitionRecipient.member_id)
            .join(Recognition, col(Recognition.id) == col(RecognitionRecipient.recognition_id))
            .where(
                col(RecognitionRecipient.member_id).in_(ids),
                Recognition.created_at >= quiet_since,
                *_COUNTED,
            )
        )
    )
    return tuple(
        r.display_name for r in reports if r.id not in recently and r.created_at < quiet_since
    )


def _standing(
    session: Session, manager: Member, *, now: datetime, policy: KudosPolicy
) -> dict[str, Any]:
    sprint = policy.sprints.sprint_of(now)
    if sprint is None or not manager.team:
        return {}
    totals = session.exec(
        select(Member.team, func.sum(LeaderboardTotal.points))
        .join(Member, col(Member.id) == col(LeaderboardTotal.member_id))
        .where(
            LeaderboardTotal.sprint == sprint.id,
            LeaderboardTotal.value_tag == "",
            col(Member.team).is_not(None),
            col(Member.active).is_(True),
        )
        .group_by(col(Member.team))
    ).all()
    points = {team: int(p or 0) for team, p in totals}
    if not points.get(manager.team):
        return {"team": manager.team, "sprint": sprint.id}
    ranked = sorted(set(points.values()), reverse=True)
    mine = points[manager.team]
    return {
        "team": manager.team,
        "sprint": sprint.id,
        "team_points": mine,
        "team_rank": ranked.index(mine) + 1,
    }


def _survey(session: Session, manager: Member) -> dict[str, Any] | None:
    """The latest closed round: the team's participation, and eNPS when the team's answers
    meet the round's anonymity threshold (anonymous answers carry the team only then)."""
    round_ = session.exec(
        select(SurveyRound)
        .where(SurveyRound.status == "closed")
        .order_by(col(SurveyRound.closed_at).desc())
        .limit(1)
    ).first()
    if round_ is None or not manager.team:
        return None
    # The team's figures as the round publishes them, so a digest can never show what the
    # results withhold (a team mean beside the company mean could give an answer away).
    assert round_.id is not None
    shown = results(session, round_.id, with_trend=False)
    group = next((g for g in shown.groups if g.by == "team" and g.name == manager.team), None)
    team_size = session.exec(
        select(func.count(col(Member.id))).where(
            Member.team == manager.team, col(Member.active).is_(True)
        )
    ).one()
    if group is None or not team_size:
        return None  # too few of the team answered for anything to be said about it
    enps_ids = [q.id for q in shown.questions if q.type == "enps"]
    score = next((group.means[i] for i in enps_ids if i in group.means), None)
    return {
        "title": round_.definition["title"],
        "participation": min(1.0, group.respondents / int(team_size)),
        "enps": round(score) if score is not None else None,
    }


def _reviews(session: Session, manager: Member, policy: KudosPolicy) -> int | None:
    ids = {platform_id(manager, "slack"), platform_id(manager, "email")} - {None}
    if not ids & {r.lower() if "@" in r else r for r in policy.reviewers}:
        return None
    return int(
        session.exec(select(func.count(col(Review.id))).where(Review.status == "pending")).one()
    )


def send_due(
    session: Session, *, now: datetime, policy: KudosPolicy, schedule: DigestSchedule
) -> int:
    """Queue every digest whose local time came within the last day and was not sent."""
    queued = 0
    for manager in managers(session):
        at = send_time(manager, now, schedule)
        if not at <= now < at + timedelta(days=1) or posts.dm_route(manager) is None:
            continue
        week = _week(at.astimezone(zone(manager.timezone)).date())
        period = f"{week}:{manager.id}"
        if session.exec(
            select(ScheduledRun.id).where(
                ScheduledRun.job == "digest", ScheduledRun.period == period
            )
        ).first():
            continue
        try:
            with session.begin_nested():
                session.add(ScheduledRun(job="digest", period=period, ran_at=now))
                session.flush()
        except IntegrityError:
            continue
        # Made in the manager's language: the outbox keeps the lines as they are made.
        with speaking(manager.locale):
            digest = build(session, manager, now=now, policy=policy, least=schedule.least)
            shown = lines(digest) if digest is not None else []
        if digest is None or (digest.empty and schedule.empty == "skip"):
            continue
        queued += queries.enqueue_many(
            session=session,
            messages=[
                m
                for m in [
                    posts.dm(
                        manager,
                        key=f"digest:{period}",
                        template=Template.DIGEST_WEEKLY,
                        data=digest.as_json() | {"lines": shown},
                    )
                ]
                if m
            ],
        )
    return queued

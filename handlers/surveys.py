"""Pulse surveys: open a round, deliver it, take answers, remind, close and report.

Platform-neutral: the adapters turn clicks into `SurveyAnswered` and render the
`survey.*` outbox templates. Every step is keyed so running it twice does nothing twice:
a round is unique per (survey, period), each invitation and reminder is an outbox row
with its own key, an answer is unique per (round, respondent, question).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from compliance_rules import Outcome, RuleSet, check, redact
from handlers import posts, safety
from handlers.clock import zone
from handlers.events import Person
from handlers.members import find
from handlers.policy import KudosPolicy
from storage import queries
from storage.models import Member, SurveyAnswer, SurveyInvite, SurveyRound
from storage.people import MemberRow

QuestionType = Literal["scale", "enps", "choice", "text"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_TEXT = 2000


# -- definitions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    id: str
    type: QuestionType
    text: str
    labels: tuple[str, ...] = ()  # scale: two (low, high) or five labels
    options: tuple[str, ...] = ()  # choice
    multi: bool = False  # choice: several options may be picked
    optional: bool = False

    def scores(self) -> range:
        return range(0, 11) if self.type == "enps" else range(1, 6)


@dataclass(frozen=True)
class Audience:
    """Everyone active, narrowed by any of these roster fields or a channel's members."""

    teams: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    therapeutic_areas: tuple[str, ...] = ()
    slack_channel: str | None = None


@dataclass(frozen=True)
class Schedule:
    """Either a cron expression in an explicit zone, or a local time per recipient."""

    cron: str | None = None
    timezone: str | None = None
    local_day: int | None = None  # 0 = Monday; None with local_time = every day
    local_time: time | None = None

    @property
    def is_local(self) -> bool:
        return self.local_time is not None


@dataclass(frozen=True)
class Survey:
    id: str
    title: str
    questions: tuple[Question, ...]
    schedule: Schedule = field(default_factory=Schedule)
    intro: str = ""
    audience: Audience = field(default_factory=Audience)
    open_for: timedelta = timedelta(days=3)
    remind_after: timedelta | None = None
    max_reminders: int = 0
    anonymous: bool = True
    min_responses: int = 5
    owners: tuple[str, ...] = ()  # Slack user ids or emails
    results_channel: str | None = None

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["open_for"] = self.open_for.total_seconds()
        data["remind_after"] = self.remind_after.total_seconds() if self.remind_after else None
        lt = self.schedule.local_time
        data["schedule"]["local_time"] = lt.isoformat() if lt else None
        return data


def survey_from_json(data: dict[str, Any]) -> Survey:
    """The definition a round was opened with (kept in the round, so edits do not move it)."""
    schedule = dict(data["schedule"])
    if schedule.get("local_time"):
        schedule["local_time"] = time.fromisoformat(schedule["local_time"])
    audience = data["audience"]
    return Survey(
        id=data["id"],
        title=data["title"],
        intro=data.get("intro", ""),
        questions=tuple(
            Question(
                id=q["id"],
                type=q["type"],
                text=q["text"],
                labels=tuple(q.get("labels", ())),
                options=tuple(q.get("options", ())),
                multi=bool(q.get("multi")),
                optional=bool(q.get("optional")),
            )
            for q in data["questions"]
        ),
        schedule=Schedule(**schedule),
        audience=Audience(
            teams=tuple(audience.get("teams", ())),
            regions=tuple(audience.get("regions", ())),
            therapeutic_areas=tuple(audience.get("therapeutic_areas", ())),
            slack_channel=audience.get("slack_channel"),
        ),
        open_for=timedelta(seconds=data["open_for"]),
        remind_after=timedelta(seconds=data["remind_after"]) if data.get("remind_after") else None,
        max_reminders=int(data.get("max_reminders", 0)),
        anonymous=bool(data["anonymous"]),
        min_responses=int(data["min_responses"]),
        owners=tuple(data.get("owners", ())),
        results_channel=data.get("results_channel"),
    )


# -- schedule arithmetic --------------------------------------------------------------------

# A local time happens first at UTC+14 and last at UTC-12.
_EARLIEST = timedelta(hours=14)
_LATEST = timedelta(hours=12)


def local_period(survey: Survey, now: datetime) -> tuple[str, date] | None:
    """The local-time period whose send time has begun somewhere on Earth and whose round
    is not yet over everywhere: (period key, the local date everyone receives it on)."""
    schedule = survey.schedule
    assert schedule.local_time is not None
    today = now.astimezone(UTC).date()
    # Far enough back to catch a round still open after a long stop, newest first.
    back = math.ceil((_LATEST + survey.open_for) / timedelta(days=1)) + 1
    for offset in range(1, -back - 1, -1):
        day = today + timedelta(days=offset)
        if schedule.local_day is not None and day.weekday() != schedule.local_day:
            continue
        at = datetime.combine(day, schedule.local_time, tzinfo=UTC)
        if at - _EARLIEST <= now < at + _LATEST + survey.open_for:
            if schedule.local_day is None:
                return day.isoformat(), day
            year, week, _ = day.isocalendar()
            return f"{year}-W{week:02d}", day
    return None


def local_send_time(day: date, at: time, tz: str | None) -> datetime:
    """`at` on `day` on the wall clock of `tz`, as UTC (zoneinfo resolves DST gaps)."""
    return datetime.combine(day, at, tzinfo=zone(tz)).astimezone(UTC)


# -- results of the use cases ---------------------------------------------------------------


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


@dataclass(frozen=True)
class SurveyAnswered:
    """A person answered (or changed their answer to) one question."""

    person: Person
    round_id: int
    question_id: str
    score: int | None = None
    choices: tuple[str, ...] = ()
    text: str | None = None


@dataclass(frozen=True)
class Answered:
    round_id: int
    answers: dict[str, Any]  # question id -> score, choices or text: what the DM shows now
    closes_at: datetime
    invite: dict[str, Any]  # the survey message's data, with these answers, to redraw it
    note: str | None = None  # e.g. why a text was not kept as written


@dataclass(frozen=True)
class AnswerRefused:
    reason: str  # closed | not_invited | unknown | invalid
    message: str


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
    channel_members: Iterable[str] | None = None,
) -> Opened | AlreadyOpen | Skipped:
    """Open the round for `period` once, invite the audience and queue what is due now."""
    existing = session.exec(
        select(SurveyRound.id).where(
            SurveyRound.survey_id == survey.id, SurveyRound.period == period
        )
    ).first()
    if existing is not None:
        return AlreadyOpen(existing)
    members = _audience(session, survey.audience, channel_members)
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
    last_send = max(sends.values())
    ends = closes_at or max(now, last_send) + survey.open_for
    if ends <= now:
        return Skipped("the round would already be over")
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
        salt=secrets.token_hex(32) if survey.anonymous else None,
    )
    try:
        with session.begin_nested():
            session.add(round_)
            session.flush()
    except IntegrityError:
        # Another replica opened it a moment ago.
        found = session.exec(
            select(SurveyRound.id).where(
                SurveyRound.survey_id == survey.id, SurveyRound.period == period
            )
        ).first()
        if found is None:
            raise
        return AlreadyOpen(found)
    assert round_.id is not None
    session.connection().execute(
        SurveyInvite.__table__.insert(),  # type: ignore[attr-defined]
        [{"round_id": round_.id, "member_id": m, "send_at": at} for m, at in sends.items()],
    )
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


def _audience(
    session: Session, audience: Audience, channel_members: Iterable[str] | None
) -> list[Member]:
    stmt = select(Member).where(
        col(Member.active).is_(True),
        col(Member.is_bot).is_(False),
        # Only people the bot can reach: surveys are delivered as Slack or Teams DMs.
        col(Member.slack_user_id).is_not(None) | col(Member.teams_aad_id).is_not(None),
    )
    if audience.teams:
        stmt = stmt.where(col(Member.team).in_(audience.teams))
    if audience.regions:
        stmt = stmt.where(col(Member.region).in_(audience.regions))
    if audience.therapeutic_areas:
        stmt = stmt.where(col(Member.therapeutic_area).in_(audience.therapeutic_areas))
    members = list(session.exec(stmt.order_by(col(Member.id))))
    if channel_members is not None:
        wanted = set(channel_members)
        members = [m for m in members if m.slack_user_id in wanted]
    return members


# -- delivery and reminders -----------------------------------------------------------------


def _invite_payload(round_: SurveyRound, *, reminder: int = 0) -> dict[str, Any]:
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


def _dm(member: Member, key: str, template: str, data: dict[str, Any]) -> queries.Message | None:
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
    messages: list[queries.Message] = []
    sent: list[int] = []
    payloads: dict[int, dict[str, Any]] = {}
    for invite, round_, member in session.exec(stmt):
        assert round_.id is not None and invite.id is not None
        data = payloads.setdefault(round_.id, _invite_payload(round_))
        message = _dm(member, f"survey:{round_.id}:{member.id}:invite", "survey.invite", data)
        if message is not None:
            messages.append(message)
        sent.append(invite.id)
    if not sent:
        return 0
    queries.enqueue_many(session=session, messages=messages)
    table = SurveyInvite.__table__  # type: ignore[attr-defined]
    for start in range(0, len(sent), 500):
        session.connection().execute(
            update(table).where(table.c.id.in_(sent[start : start + 500])).values(sent_at=now)
        )
    return len(messages)


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
    messages: list[queries.Message] = []
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
        data = _invite_payload(round_, reminder=number)
        message = _dm(
            member, f"survey:{round_.id}:{member.id}:reminder:{number}", "survey.invite", data
        )
        invite.reminders_sent, invite.last_reminded_at = number, now
        session.add(invite)
        if message is not None:
            messages.append(message)
    return queries.enqueue_many(session=session, messages=messages)


# -- answers --------------------------------------------------------------------------------


def respondent_token(round_: SurveyRound, member_id: int) -> str:
    """Who answered, as the round sees it: the member id, or a keyed hash when anonymous."""
    if not round_.anonymous:
        return f"member:{member_id}"
    if round_.salt is None:
        raise ValueError("an anonymous round that has closed has no respondents to match")
    return hmac.new(bytes.fromhex(round_.salt), str(member_id).encode(), hashlib.sha256).hexdigest()


def answer(
    event: SurveyAnswered,
    *,
    session: Session,
    now: datetime,
    rules: RuleSet,
    policy: KudosPolicy,
) -> Answered | AnswerRefused:
    """Record (or replace) one answer; free text is checked for adverse events and PHI."""
    # The round's row is locked (PostgreSQL) so an answer and the close cannot interleave,
    # and two quick clicks by one person are taken one after the other.
    round_ = session.exec(
        select(SurveyRound).where(SurveyRound.id == event.round_id).with_for_update()
    ).first()
    if round_ is None:
        return AnswerRefused("unknown", "That survey no longer exists.")
    if round_.status != "open" or now >= round_.closes_at:
        closed = round_.closed_at or round_.closes_at
        return AnswerRefused(
            "closed",
            f"This round of *{round_.definition['title']}* closed on "
            f"{closed:%d %b %Y}; answers are no longer accepted. Thank you all the same.",
        )
    row = find(event.person, session=session)
    member = session.get(Member, row.id) if row is not None else None
    invite = (
        session.exec(
            select(SurveyInvite).where(
                SurveyInvite.round_id == round_.id, SurveyInvite.member_id == member.id
            )
        ).first()
        if member is not None
        else None
    )
    if row is None or member is None or member.id is None or invite is None:
        return AnswerRefused(
            "not_invited", "This survey was not sent to you, so it cannot be answered."
        )
    survey = survey_from_json(round_.definition)
    question = survey.question(event.question_id)
    if question is None:
        return AnswerRefused("invalid", "That question is not part of this survey.")
    problem = _invalid(question, event)
    if problem:
        return AnswerRefused("invalid", problem)
    token = respondent_token(round_, member.id)
    existing = session.exec(
        select(SurveyAnswer).where(
            SurveyAnswer.round_id == round_.id,
            SurveyAnswer.respondent == token,
            SurveyAnswer.question_id == question.id,
        )
    ).first()
    text: str | None = None
    flags: list[str] = []
    note: str | None = None
    if question.type == "text":
        text, flags, note = _screen_text(
            event.text or "",
            survey,
            row,
            session=session,
            now=now,
            rules=rules,
            policy=policy,
            before=existing.text if existing else None,
        )
    values = {
        "score": event.score if question.type in ("scale", "enps") else None,
        "choices": list(event.choices) if question.type == "choice" else [],
        "text": text,
        "flags": flags,
    }
    if existing is None:
        team, region = (
            _groups(session, round_, member, survey.min_responses)
            if round_.anonymous
            else (member.team, member.region)
        )
        existing = SurveyAnswer(
            round_id=event.round_id,
            respondent=token,
            member_id=None if round_.anonymous else member.id,
            question_id=question.id,
            team=team,
            region=region,
        )
    for name, value in values.items():
        setattr(existing, name, value)
    session.add(existing)
    if not invite.responded:
        invite.responded = True
        session.add(invite)
    session.flush()
    answers = current_answers(session, round_, token)
    redraw = {**_invite_payload(round_), "answers": answers}
    return Answered(round_.id or 0, answers, round_.closes_at, redraw, note)


def question_for(
    session: Session, round_id: int, question_id: str, person: Person
) -> tuple[str, str | None] | None:
    """(question text, the person's current answer) for the free-text form, if they may
    still answer it."""
    round_ = session.get(SurveyRound, round_id)
    row = find(person, session=session)
    if round_ is None or row is None or round_.status != "open":
        return None
    invited = session.exec(
        select(SurveyInvite.id).where(
            SurveyInvite.round_id == round_id, SurveyInvite.member_id == row.id
        )
    ).first()
    question = survey_from_json(round_.definition).question(question_id)
    if invited is None or question is None or question.type != "text":
        return None
    current = current_answers(session, round_, respondent_token(round_, row.id))
    value = current.get(question_id)
    return question.text, value if isinstance(value, str) else None


def invite_for(session: Session, round_id: int, person: Person) -> dict[str, Any] | None:
    """The survey message's data with this person's current answers, if they were invited."""
    round_ = session.get(SurveyRound, round_id)
    row = find(person, session=session)
    if round_ is None or row is None:
        return None
    invited = session.exec(
        select(SurveyInvite.id).where(
            SurveyInvite.round_id == round_id, SurveyInvite.member_id == row.id
        )
    ).first()
    if invited is None:
        return None
    answers = current_answers(session, round_, respondent_token(round_, row.id))
    return {**_invite_payload(round_), "answers": answers}


def _invalid(question: Question, event: SurveyAnswered) -> str | None:
    if question.type in ("scale", "enps"):
        if event.score is None or event.score not in question.scores():
            low, high = question.scores()[0], question.scores()[-1]
            return f"Please pick a number from {low} to {high}."
    elif question.type == "choice":
        unknown = [c for c in event.choices if c not in question.options]
        if unknown or (not question.multi and len(event.choices) > 1):
            return "Please pick from the options offered."
        if not event.choices and not question.optional:
            return "Please pick at least one option."
    else:
        text = (event.text or "").strip()
        if not text:
            return "The answer is empty."
        if len(text) > MAX_TEXT:
            return f"Please keep it under {MAX_TEXT} characters."
    return None


def _groups(
    session: Session, round_: SurveyRound, member: Member, threshold: int
) -> tuple[str | None, str | None]:
    """The team and region an anonymous answer may carry: only groups of at least
    `threshold` invited people, and both only when their overlap is that large too, so no
    stored row points at one person."""
    invited = (
        select(func.count(col(SurveyInvite.id)))
        .join(Member, col(Member.id) == col(SurveyInvite.member_id))
        .where(SurveyInvite.round_id == round_.id)
    )

    def size(*conditions: Any) -> int:
        return int(session.exec(invited.where(*conditions)).one())

    team_ok = member.team is not None and size(Member.team == member.team) >= threshold
    region_ok = member.region is not None and size(Member.region == member.region) >= threshold
    if team_ok and region_ok:
        both = size(Member.team == member.team, Member.region == member.region)
        if both < threshold:
            region_ok = False  # keep the team, the finer of the two breakdowns
    return (member.team if team_ok else None), (member.region if region_ok else None)


def _screen_text(
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
    kept = redact(text, result)
    note = None
    if result.outcome is Outcome.ROUTE_PV and kept == before:
        note = "Your answer was already passed to drug safety; nothing new was sent."
    elif result.outcome is Outcome.ROUTE_PV:
        reporter = None if survey.anonymous else member
        safety.open_case(
            session,
            source="survey",
            text=kept,
            findings=result.findings,
            reporter=reporter,
            recognition_id=None,
            workspace=member.slack_team_id,
            policy=policy,
            now=now,
        )
        note = (
            "Your answer mentions what may be a side effect, so it has been passed to drug "
            "safety" + (" without your name." if survey.anonymous else ".")
        )
    elif kept != text:
        note = "Patient details were removed from your answer before it was kept."
    return kept, flags, note


def current_answers(session: Session, round_: SurveyRound, token: str) -> dict[str, Any]:
    rows = session.exec(
        select(SurveyAnswer).where(
            SurveyAnswer.round_id == round_.id, SurveyAnswer.respondent == token
        )
    )
    shown: dict[str, Any] = {}
    for row in rows:
        shown[row.question_id] = row.score if row.score is not None else (row.choices or row.text)
    return shown


# -- closing and results --------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionResult:
    id: str
    text: str
    type: str
    answers: int
    distribution: dict[str, int]  # option or score -> count, in display order
    mean: float | None = None
    enps: int | None = None  # % promoters (9-10) minus % detractors (0-6)
    texts: tuple[str, ...] = ()
    hidden: bool = False  # anonymous, and too few answered this question to show it


@dataclass(frozen=True)
class GroupResult:
    by: str  # team | region
    name: str
    respondents: int
    means: dict[str, float]  # question id -> mean (enps: the score)


@dataclass(frozen=True)
class TrendPoint:
    number: int
    opened_at: str
    participation: float
    scores: dict[str, float]


@dataclass(frozen=True)
class Results:
    round_id: int
    survey_id: str
    title: str
    number: int
    opened_at: str
    closes_at: str
    closed: bool
    anonymous: bool
    min_responses: int
    invited: int
    respondents: int
    hidden: bool  # too few answers to show anything of an anonymous round
    questions: tuple[QuestionResult, ...] = ()
    groups: tuple[GroupResult, ...] = ()
    suppressed_groups: int = 0
    trend: tuple[TrendPoint, ...] = ()

    @property
    def participation(self) -> float:
        return self.respondents / self.invited if self.invited else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "participation": round(self.participation, 4)}


def enps(scores: Sequence[int]) -> int | None:
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return round(100 * (promoters - detractors) / len(scores))


def _question_result(
    question: Question, rows: list[SurveyAnswer], show_text: bool
) -> QuestionResult:
    if question.type in ("scale", "enps"):
        scores = [r.score for r in rows if r.score is not None]
        dist = {str(s): sum(1 for x in scores if x == s) for s in question.scores()}
        mean = round(sum(scores) / len(scores), 2) if scores else None
        score = enps(scores) if question.type == "enps" else None
        return QuestionResult(
            question.id, question.text, question.type, len(scores), dist, mean, score
        )
    if question.type == "choice":
        dist = {o: sum(1 for r in rows if o in r.choices) for o in question.options}
        return QuestionResult(question.id, question.text, question.type, len(rows), dist)
    # A possible adverse event went to drug safety; results never publish its words.
    texts = (
        tuple(r.text for r in rows if r.text and "adverse_event_mention" not in (r.flags or []))
        if show_text
        else ()
    )
    return QuestionResult(question.id, question.text, question.type, len(rows), {}, texts=texts)


def _score(q: QuestionResult) -> float | None:
    return float(q.enps) if q.enps is not None else q.mean


def results(session: Session, round_id: int, *, with_trend: bool = True) -> Results:
    """What a round says, with every group below `min_responses` left out."""
    round_ = session.get(SurveyRound, round_id)
    if round_ is None:
        raise LookupError(f"no survey round {round_id}")
    survey = survey_from_json(round_.definition)
    invited = int(
        session.exec(
            select(func.count(col(SurveyInvite.id))).where(SurveyInvite.round_id == round_id)
        ).one()
    )
    rows = list(session.exec(select(SurveyAnswer).where(SurveyAnswer.round_id == round_id)))
    respondents = len({r.respondent for r in rows})
    enough = respondents >= survey.min_responses
    hidden = survey.anonymous and not enough
    base = dict(
        round_id=round_id,
        survey_id=round_.survey_id,
        title=survey.title,
        number=round_.number,
        opened_at=round_.opened_at.isoformat(),
        closes_at=round_.closes_at.isoformat(),
        closed=round_.status == "closed",
        anonymous=survey.anonymous,
        min_responses=survey.min_responses,
        invited=invited,
        respondents=respondents,
        hidden=hidden,
    )
    trend = tuple(_trend(session, round_)) if with_trend else ()
    if hidden:
        return Results(**base, trend=trend)  # type: ignore[arg-type]
    by_question: dict[str, list[SurveyAnswer]] = {}
    for row in rows:
        by_question.setdefault(row.question_id, []).append(row)
    threshold = survey.min_responses
    questions = tuple(
        _shown_question(q, by_question.get(q.id, []), survey.anonymous, threshold)
        for q in survey.questions
    )
    groups: list[GroupResult] = []
    suppressed = 0
    for by in ("team", "region"):
        shown, hidden_count = _breakdown(survey, rows, by)
        groups.extend(shown)
        suppressed += hidden_count
    return Results(
        **base,  # type: ignore[arg-type]
        questions=questions,
        groups=tuple(groups),
        suppressed_groups=suppressed,
        trend=trend,
    )


def _shown_question(
    question: Question, rows: list[SurveyAnswer], anonymous: bool, threshold: int
) -> QuestionResult:
    """A question's figures; for an anonymous survey, only when enough people answered it
    (a question most people skipped could otherwise show one person's answer)."""
    people = len({r.respondent for r in rows})
    if anonymous and people < threshold:
        return QuestionResult(question.id, question.text, question.type, people, {}, hidden=True)
    return _question_result(question, rows, show_text=True)


def _breakdown(survey: Survey, rows: list[SurveyAnswer], by: str) -> tuple[list[GroupResult], int]:
    """The groups of one dimension that may be shown, and how many were held back.

    A group below the threshold is held back; and when what is held back (small groups and
    answers with no group) adds up to fewer than the threshold, the smallest shown groups
    are held back too, or the total minus the shown groups would reveal it."""
    threshold = survey.min_responses
    members: dict[str | None, list[SurveyAnswer]] = {}
    for row in rows:
        members.setdefault(getattr(row, by), []).append(row)
    sizes = {name: len({r.respondent for r in group}) for name, group in members.items()}
    shown = sorted(
        (n for n in sizes if n is not None and sizes[n] >= threshold), key=lambda n: sizes[n]
    )
    held = sum(size for name, size in sizes.items() if name not in shown)
    while shown and 0 < held < threshold:
        smallest = shown.pop(0)
        held += sizes[smallest]
    groups = []
    for name in sorted(n for n in shown if n is not None):
        means: dict[str, float] = {}
        for q in survey.questions:
            if q.type not in ("scale", "enps"):
                continue
            picked = [r for r in members[name] if r.question_id == q.id]
            if len({r.respondent for r in picked}) < threshold:
                continue  # too few in this group answered this question
            score = _score(_question_result(q, picked, show_text=False))
            if score is not None:
                means[q.id] = score
        groups.append(GroupResult(by, name, sizes[name], means))
    hidden_groups = sum(1 for n in sizes if n is not None and n not in shown)
    return groups, hidden_groups


def _trend(session: Session, round_: SurveyRound, last: int = 6) -> list[TrendPoint]:
    """Earlier rounds of the same survey, oldest first, each held to the same threshold."""
    earlier = list(
        session.exec(
            select(SurveyRound)
            .where(SurveyRound.survey_id == round_.survey_id, SurveyRound.number < round_.number)
            .order_by(col(SurveyRound.number).desc())
            .limit(last)
        )
    )
    points = []
    for past in reversed(earlier):
        assert past.id is not None
        summary = results(session, past.id, with_trend=False)
        scores = {q.id: s for q in summary.questions if (s := _score(q)) is not None}
        points.append(
            TrendPoint(past.number, past.opened_at.isoformat(), summary.participation, scores)
        )
    return points


def close_round(
    round_id: int, *, session: Session, now: datetime, closed_by: str = "schedule"
) -> Results | None:
    """Close an open round once: erase its salt, queue the results; None if already closed."""
    table = SurveyRound.__table__  # type: ignore[attr-defined]
    changed = session.connection().execute(
        update(table)
        .where(table.c.id == round_id, table.c.status == "open")
        .values(status="closed", closed_at=now, salt=None)
    )
    if not changed.rowcount:
        return None
    if session.exec(select(SurveyRound.anonymous).where(SurveyRound.id == round_id)).one():
        # Who took part mattered for reminders only; once closed, it is not kept.
        invites = SurveyInvite.__table__  # type: ignore[attr-defined]
        session.connection().execute(
            update(invites).where(invites.c.round_id == round_id).values(responded=False)
        )
    session.expire_all()
    summary = results(session, round_id)
    round_ = session.get(SurveyRound, round_id)
    assert round_ is not None
    survey = survey_from_json(round_.definition)
    data = summary.as_json()
    messages: list[queries.Message] = []
    workspace = session.exec(
        select(Member.slack_team_id).where(col(Member.slack_team_id).is_not(None)).limit(1)
    ).first()
    if survey.results_channel:
        messages.append(
            queries.Message(
                key=f"survey:{round_id}:results:channel",
                platform="slack",
                workspace=workspace,
                channel=survey.results_channel,
                kind="post",
                template="survey.results",
                data=data,
            )
        )
    for owner in _owners(session, survey.owners):
        message = _dm(owner, f"survey:{round_id}:results:owner:{owner.id}", "survey.results", data)
        if message is not None:
            messages.append(message)
    queries.enqueue_many(session=session, messages=messages)
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
        func.lower(col(Member.email)).in_(emails) | col(Member.slack_user_id).in_(ids)
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


def summary_lines(res: Results) -> list[str]:
    """The results as plain lines, for chat text, the CLI and anyone who cannot see a chart."""
    lines = [
        f"{res.title}, round {res.number}: {res.respondents} of {res.invited} answered "
        f"({res.participation:.0%})."
    ]
    if res.hidden:
        lines.append(
            f"Results are not shown: this survey is anonymous and fewer than "
            f"{res.min_responses} people answered."
        )
        return lines
    for q in res.questions:
        if q.hidden:
            lines.append(f"{q.text} not shown: fewer than {res.min_responses} answered it.")
        elif q.type == "enps" and q.enps is not None:
            lines.append(f"{q.text} eNPS {q.enps:+d} (mean {q.mean}, {q.answers} answers)")
        elif q.type == "scale" and q.mean is not None:
            spread = ", ".join(f"{k}: {v}" for k, v in q.distribution.items())
            lines.append(f"{q.text} mean {q.mean} of 5 ({spread})")
        elif q.type == "choice":
            spread = ", ".join(f"{k}: {v}" for k, v in q.distribution.items())
            lines.append(f"{q.text} {spread}")
        elif q.type == "text":
            lines.append(f"{q.text} {q.answers} written answers")
            lines.extend(f"  - {t[:300]}" + ("..." if len(t) > 300 else "") for t in q.texts)
    for group in res.groups:
        scores = ", ".join(f"{k} {v:g}" for k, v in group.means.items())
        lines.append(f"{group.by.title()} {group.name} ({group.respondents}): {scores}")
    if res.suppressed_groups:
        lines.append(
            f"{res.suppressed_groups} team or region breakdowns are not shown "
            f"(fewer than {res.min_responses} answers)."
        )
    for point in res.trend:
        scores = ", ".join(f"{k} {v:g}" for k, v in point.scores.items())
        lines.append(
            f"Round {point.number} ({point.opened_at[:10]}): {point.participation:.0%} answered"
            + (f"; {scores}" if scores else "")
        )
    return lines

"""Survey answers: take (or replace) one answer, screen free text, show current answers.

An answer is unique per (round, respondent, question); an anonymous round knows its
respondents by a keyed hash only, under a secret that is never written to the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from compliance_rules import RuleSet
from handlers.events import Person
from handlers.i18n import N_, _
from handlers.members import find
from handlers.policy import KudosPolicy
from handlers.rollout import survey_refusal
from handlers.surveys import screening
from handlers.surveys.definitions import MAX_TEXT, Question, Survey, survey_from_json
from handlers.surveys.rounds import invite_payload
from storage.models import Member, SurveyAnswer, SurveyInvite, SurveyRound
from storage.people import MemberRow


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
    reason: str  # closed | not_on | not_invited | unknown | invalid
    message: str


# For callers given no survey secret (tests, the demo): held in memory only, so nothing
# written links an answer to a person, but a restart forgets who answered an open round.
_UNCONFIGURED_SECRET = secrets.token_bytes(32)


def respondent_token(round_: SurveyRound, member_id: int, secret: bytes | None = None) -> str:
    """Who answered, as the round sees it: the member id, or for an anonymous round
    HMAC-SHA256(secret, "round:member") under the survey secret, which lives outside the
    database. A round opened before that keeps its own salt until it closes; a closed
    anonymous round has no tokens to match (they were replaced by random ones)."""
    if not round_.anonymous:
        return f"member:{member_id}"
    if round_.status != "open":
        raise ValueError("an anonymous round that has closed has no respondents to match")
    if round_.salt is not None:
        key, message = bytes.fromhex(round_.salt), str(member_id)
    else:
        key, message = secret or _UNCONFIGURED_SECRET, f"{round_.id}:{member_id}"
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def answer(
    event: SurveyAnswered,
    *,
    session: Session,
    now: datetime,
    rules: RuleSet,
    policy: KudosPolicy,
    secret: bytes | None = None,
) -> Answered | AnswerRefused:
    """Record (or replace) one answer; free text is checked for adverse events and PHI.
    A refused answer's text is screened too: a possible adverse event reaches drug safety
    however it arrives (a closed round, someone not invited or not in the pilot).

    `secret`: the survey secret that keys an anonymous round's respondent tokens."""
    found = _answer(event, session=session, now=now, rules=rules, policy=policy, secret=secret)
    if isinstance(found, AnswerRefused) and event.text and event.text.strip():
        anonymous = (r := session.get(SurveyRound, event.round_id)) is None or r.anonymous
        said = screening.refused_text(
            event.text,
            None if anonymous else event.person,  # a case keeps the survey's promise
            key=f"survey:{event.round_id}:{event.question_id}:{event.person.user_id}",
            session=session,
            now=now,
            rules=rules,
            policy=policy,
        )
        if said:
            return AnswerRefused(found.reason, f"{found.message} {said}")
    return found


def _answer(
    event: SurveyAnswered,
    *,
    session: Session,
    now: datetime,
    rules: RuleSet,
    policy: KudosPolicy,
    secret: bytes | None,
) -> Answered | AnswerRefused:
    # The round's row is locked (PostgreSQL) so an answer and the close cannot interleave,
    # and two quick clicks by one person are taken one after the other.
    round_ = session.exec(
        select(SurveyRound).where(SurveyRound.id == event.round_id).with_for_update()
    ).first()
    if round_ is None:
        return AnswerRefused("unknown", _("That survey no longer exists."))
    if round_.status != "open" or now >= round_.closes_at:
        return _closed(round_)
    if off := survey_refusal(session, policy.rollout, event.person, now.date()):
        return AnswerRefused("not_on", off)  # nothing is kept
    invited = _invitation(session, round_, event.person)
    if invited is None:
        return AnswerRefused("not_invited", _(_NOT_INVITED))
    row, member, invite = invited
    survey = survey_from_json(round_.definition)
    question = _question(survey, event)
    if isinstance(question, AnswerRefused):
        return question
    token = respondent_token(round_, row.id, secret)
    existing = _previous(session, round_, token, question)
    text: str | None = None
    flags: list[str] = []
    note: str | None = None
    if question.type == "text":
        before = existing.text if existing else None
        text, flags, note = screening.screen_text(
            event.text or "",
            survey,
            row,
            session=session,
            now=now,
            rules=rules,
            policy=policy,
            before=before,
        )
    if existing is None:
        existing = _first_answer(session, event.round_id, round_, survey, member, token, question)
    for name, value in _values(event, question, text, flags).items():
        setattr(existing, name, value)
    session.add(existing)
    if not invite.responded:
        invite.responded = True
        session.add(invite)
    session.flush()
    answers = current_answers(session, round_, token)
    redraw = {**invite_payload(round_), "answers": answers}
    return Answered(round_.id or 0, answers, round_.closes_at, redraw, note)


_NOT_INVITED = N_("This survey was not sent to you, so it cannot be answered.")


def _question(survey: Survey, event: SurveyAnswered) -> Question | AnswerRefused:
    """The question answered, or why the answer cannot be taken."""
    question = survey.question(event.question_id)
    if question is None:
        return AnswerRefused("invalid", _("That question is not part of this survey."))
    problem = _invalid(question, event)
    return AnswerRefused("invalid", problem) if problem else question


def _previous(
    session: Session, round_: SurveyRound, token: str, question: Question
) -> SurveyAnswer | None:
    return session.exec(
        select(SurveyAnswer).where(
            SurveyAnswer.round_id == round_.id,
            SurveyAnswer.respondent == token,
            SurveyAnswer.question_id == question.id,
        )
    ).first()


def _values(
    event: SurveyAnswered, question: Question, text: str | None, flags: list[str]
) -> dict[str, Any]:
    """What an answer holds: only what its question's type asks for."""
    return {
        "score": event.score if question.type in ("scale", "enps") else None,
        "choices": list(event.choices) if question.type == "choice" else [],
        "text": text,
        "flags": flags,
    }


def _closed(round_: SurveyRound) -> AnswerRefused:
    closed = f"{round_.closed_at or round_.closes_at:%d %b %Y}"
    return AnswerRefused(
        "closed",
        _(
            "This round of *{title}* closed on {date}; answers are no longer accepted. "
            "Thank you all the same.",
            title=round_.definition["title"],
            date=closed,
        ),
    )


def _invitation(
    session: Session, round_: SurveyRound, person: Person
) -> tuple[MemberRow, Member, SurveyInvite] | None:
    """The person (as a row and as a member) and their invitation to the round; None when
    they were not invited."""
    row = find(person, session=session)
    member = session.get(Member, row.id) if row is not None else None
    if row is None or member is None or member.id is None:
        return None
    invite = session.exec(
        select(SurveyInvite).where(
            SurveyInvite.round_id == round_.id, SurveyInvite.member_id == member.id
        )
    ).first()
    return None if invite is None else (row, member, invite)


def _first_answer(
    session: Session,
    round_id: int,
    round_: SurveyRound,
    survey: Survey,
    member: Member,
    token: str,
    question: Question,
) -> SurveyAnswer:
    """A respondent's first answer to a question; an anonymous one carries a team and
    region only where the groups are large enough (see `_groups`)."""
    team, region = (
        _groups(session, round_, member, survey.min_responses)
        if round_.anonymous
        else (member.team, member.region)
    )
    return SurveyAnswer(
        round_id=round_id,
        respondent=token,
        member_id=None if round_.anonymous else member.id,
        question_id=question.id,
        team=team,
        region=region,
    )


def question_for(
    session: Session,
    round_id: int,
    question_id: str,
    person: Person,
    *,
    secret: bytes | None = None,
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
    current = current_answers(session, round_, respondent_token(round_, row.id, secret))
    value = current.get(question_id)
    return question.text, value if isinstance(value, str) else None


def invite_for(
    session: Session, round_id: int, person: Person, *, secret: bytes | None = None
) -> dict[str, Any] | None:
    """The survey message's data with this person's current answers (none once an anonymous
    round has closed: nothing links them to the person any more), if they were invited."""
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
    unlinked = round_.anonymous and round_.status != "open"
    answers = (
        {}
        if unlinked
        else current_answers(session, round_, respondent_token(round_, row.id, secret))
    )
    return {**invite_payload(round_), "answers": answers}


def _invalid(question: Question, event: SurveyAnswered) -> str | None:
    if question.type in ("scale", "enps"):
        if event.score is None or event.score not in question.scores():
            low, high = question.scores()[0], question.scores()[-1]
            return _("Please pick a number from {low} to {high}.", low=low, high=high)
    elif question.type == "choice":
        unknown = [c for c in event.choices if c not in question.options]
        if unknown or (not question.multi and len(event.choices) > 1):
            return _("Please pick from the options offered.")
        if not event.choices and not question.optional:
            return _("Please pick at least one option.")
    else:
        text = (event.text or "").strip()
        if not text:
            return _("The answer is empty.")
        if len(text) > MAX_TEXT:
            return _("Please keep it under {limit} characters.", limit=MAX_TEXT)
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

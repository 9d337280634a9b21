"""Anonymous survey answers cannot be linked to people: no key is ever in the database.

The finding: a closed round's erased salt was still readable in SQLite's write-ahead log
(PostgreSQL keeps dead row versions, WAL archives and backups too) and linked 11 of 11
respondents to their answers. Respondent tokens are now keyed by a secret kept outside the
database, and at close they are replaced by random ones. These tests play the attacker:
every table, and the raw bytes of the database files, searched for any key that ties a
stored answer to a member.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from bot.cli.bootstrap import UsageError, survey_secret
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import survey as slack_survey
from bot.teams import cards as teams_cards
from compliance_rules import default_rules
from handlers import surveys
from handlers.clock import FixedClock
from handlers.events import Person
from handlers.policy import KudosPolicy
from storage.models import Member, SurveyAnswer, SurveyInvite, SurveyRound

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECRET = b"0123456789abcdef0123456789abcdef-survey"
RULES = default_rules()
POLICY = KudosPolicy()
HEX64 = re.compile(rb"[0-9a-fA-F]{64}")

PULSE = surveys.Survey(
    id="pulse",
    title="Pulse",
    questions=(
        surveys.Question("energy", "scale", "How energised do you feel?", ("Drained", "Great")),
        surveys.Question("enps", "enps", "Would you recommend working here?"),
        surveys.Question("comment", "text", "Anything else?", optional=True),
    ),
    anonymous=True,
    min_responses=5,
    owners=("lead@example.com",),
)


def people(session: Session, count: int = 11) -> list[Member]:
    members = [
        Member(
            slack_team_id="T0001",
            slack_user_id=f"U{i:04d}",
            email=f"user{i}@example.com",
            display_name=f"User {i}",
            team="Brand",
            region="EMEA",
        )
        for i in range(1, count + 1)
    ]
    session.add_all(members)
    session.commit()
    return members


def person(member: Member) -> Person:
    assert member.slack_user_id is not None
    return Person("slack", "T0001", member.slack_user_id, member.display_name)


def answer_all(session: Session, members: list[Member], *round_ids: int) -> None:
    """Everyone answers, one after the other, each with a comment saying who they are (in
    each of the rounds in turn, so their rows lie side by side in the table)."""
    for i, member in enumerate(members):
        for round_id, (qid, value) in itertools.product(
            round_ids,
            (
                ("energy", {"score": i % 5 + 1}),
                ("enps", {"score": i % 11}),
                ("comment", {"text": f"Answer number {i:02d}"}),
            ),
        ):
            outcome = surveys.answer(
                surveys.SurveyAnswered(person(member), round_id, qid, **value),  # type: ignore[arg-type]
                session=session,
                now=T0 + timedelta(hours=1),
                rules=RULES,
                policy=POLICY,
                secret=SECRET,
            )
            assert isinstance(outcome, surveys.Answered), outcome
        session.commit()


def open_round(session: Session, survey: surveys.Survey = PULSE) -> int:
    opened = surveys.open_round(survey, session=session, now=T0, period="2026-W48")
    assert isinstance(opened, surveys.Opened)
    session.commit()
    return opened.round_id


# -- the attacker -----------------------------------------------------------------------------


def every_table(engine: Engine) -> bytes:
    """Every value of every table, as text (callers end their own transaction first: on
    SQLite, it holds the write lock)."""
    found = []
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                found.append(" ".join(repr(v) for v in row))
    return "\n".join(found).encode()


def raw_files(engine: Engine) -> bytes | None:
    """The database as stored: SQLite's file and write-ahead log, or PostgreSQL's heap and
    index files of this schema (dead row versions included), after a checkpoint."""
    if engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        wal = Path(f"{path}-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    try:
        with engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
            paths = connection.execute(
                text(
                    "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                    "WHERE c.relnamespace = current_schema()::regnamespace "
                    "AND c.relkind IN ('r', 'i', 't')"
                )
            ).scalars()
            return b"".join(
                connection.execute(text("SELECT pg_read_binary_file(:p)"), {"p": p}).scalar_one()
                for p in paths
                if p
            )
    except DBAPIError:
        return None  # not allowed to read the server's files: the tables must do


def candidate_keys(blob: bytes) -> set[bytes]:
    """Whatever could be a key: every 64-digit hex string (a salt's shape), as bytes."""
    return {bytes.fromhex(h.decode()) for h in HEX64.findall(blob)}


def token(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def linked(blob: bytes, keys: set[bytes], round_id: int, members: list[Member]) -> set[int | None]:
    """The members some key ties to a respondent token found in `blob`: the way a round's
    salt keyed them, and the way the survey secret keys an open round."""
    found = {h.decode().lower() for h in HEX64.findall(blob)}
    return {
        m.id
        for m in members
        for key in keys
        if token(key, str(m.id)) in found or token(key, f"{round_id}:{m.id}") in found
    }


def stored_tokens(session: Session, round_id: int) -> set[str]:
    return set(
        session.exec(select(SurveyAnswer.respondent).where(SurveyAnswer.round_id == round_id))
    )


@pytest.fixture
def session(file_engine: Engine) -> Iterator[Session]:
    with Session(file_engine, expire_on_commit=False) as s:
        yield s


# -- tests ------------------------------------------------------------------------------------


def test_while_a_round_is_open_the_database_alone_links_no_one(
    session: Session, file_engine: Engine
) -> None:
    members = people(session)
    round_id = open_round(session)
    answer_all(session, members, round_id)
    tables = every_table(file_engine)
    blob = tables + (raw_files(file_engine) or b"")
    assert linked(tables, candidate_keys(blob), round_id, members) == set()
    round_ = session.get(SurveyRound, round_id)
    assert round_ is not None and round_.salt is None
    # The attacker's method works: with the survey secret, an open round is linkable (that
    # is how a person's answers are found again until it closes).
    assert linked(tables, {SECRET}, round_id, members) == {m.id for m in members}


def test_after_close_nothing_links_a_member_to_an_answer_even_with_the_secret(
    session: Session, file_engine: Engine
) -> None:
    members = people(session)
    round_id = open_round(session)
    # Another survey's round, open all along: its answers share the table's pages.
    other = open_round(session, surveys.Survey(**{**PULSE.__dict__, "id": "checkin"}))
    answer_all(session, members, round_id, other)
    while_open = stored_tokens(session, round_id)
    assert len(while_open) == 11
    closed = surveys.close_round(round_id, session=session, now=T0 + timedelta(days=3))
    session.commit()
    assert closed is not None and closed.respondents == 11 and not closed.hidden

    # The attacker: every key found in the tables or the files, and the survey secret too,
    # against every respondent token stored anywhere.
    tables = every_table(file_engine)
    raw = raw_files(file_engine)
    keys = candidate_keys(tables + (raw or b"")) | {SECRET}
    assert linked(tables, keys, round_id, members) == set()
    if file_engine.dialect.name == "sqlite":
        # Neither the file nor its write-ahead log keeps a key or an open round's token.
        assert raw is not None
        assert linked(raw, keys, round_id, members) == set()
        assert not any(t.encode() in raw for t in while_open)
        assert Path(f"{file_engine.url.database}-wal").stat().st_size == 0
    elif raw is not None:
        # PostgreSQL keeps dead row versions (and WAL) with the open round's tokens until
        # vacuum; without the secret, which was never written, they link no one.
        assert linked(raw, candidate_keys(tables + raw), round_id, members) == set()

    # How: fresh random tokens, one per respondent, no salt, no member, no participation.
    after = stored_tokens(session, round_id)
    assert len(after) == 11 and not after & while_open
    assert session.exec(select(SurveyRound.salt)).all() == [None, None]
    answers = session.exec(select(SurveyAnswer).order_by(col(SurveyAnswer.id))).all()
    assert len(answers) == 66 and all(a.member_id is None for a in answers)
    invites = select(SurveyInvite.responded).where(SurveyInvite.round_id == round_id)
    assert not any(session.exec(invites).all())
    # The rows are no longer in the order people answered (1 chance in 11! otherwise).
    comments = [
        a.text or "" for a in answers if a.question_id == "comment" and a.round_id == round_id
    ]
    assert comments != sorted(comments)
    # Results still count people: each respondent kept one token for all their answers.
    assert surveys.results(session, round_id).respondents == 11


def test_a_round_opened_with_a_salt_keeps_it_until_it_closes(
    session: Session, file_engine: Engine
) -> None:
    """A round opened before the survey secret existed keeps working with its stored salt,
    and at close loses it and every token it keyed."""
    members = people(session, 6)
    round_id = open_round(session)
    salt = secrets.token_hex(32)
    legacy = session.get(SurveyRound, round_id)
    assert legacy is not None
    legacy.salt = salt
    session.add(legacy)
    session.commit()
    answer_all(session, members, round_id)
    again = surveys.answer(
        surveys.SurveyAnswered(person(members[0]), round_id, "energy", score=5),
        session=session,
        now=T0 + timedelta(hours=2),
        rules=RULES,
        policy=POLICY,
        secret=SECRET,
    )
    assert isinstance(again, surveys.Answered) and again.answers["energy"] == 5
    salted = {token(bytes.fromhex(salt), str(m.id)) for m in members}
    assert stored_tokens(session, round_id) == salted
    surveys.close_round(round_id, session=session, now=T0 + timedelta(days=3))
    session.commit()
    assert session.exec(select(SurveyRound.salt)).all() == [None]
    assert not stored_tokens(session, round_id) & salted
    session.commit()
    tables = every_table(file_engine)
    assert salt.encode() not in tables
    if file_engine.dialect.name == "sqlite":
        assert salt.encode() not in (raw_files(file_engine) or b"")


def test_a_closed_anonymous_round_shows_no_one_their_answers(session: Session) -> None:
    (member,) = people(session, 1)
    round_id = open_round(session)
    answer_all(session, [member], round_id)
    surveys.close_round(round_id, session=session, now=T0 + timedelta(days=3))
    session.commit()
    shown = surveys.invite_for(session, round_id, person(member), secret=SECRET)
    assert shown is not None and shown["answers"] == {}
    round_ = session.get(SurveyRound, round_id)
    assert round_ is not None
    with pytest.raises(ValueError):
        surveys.respondent_token(round_, member.id or 0, SECRET)


def test_slack_and_teams_key_answers_with_the_configured_secret(
    session: Session, file_engine: Engine
) -> None:
    slack_member = people(session, 1)[0]
    teams_member = Member(teams_aad_id="aad-0001", email="t@example.com", display_name="Tess")
    session.add(teams_member)
    session.commit()
    round_id = open_round(session)
    clock = FixedClock(T0 + timedelta(hours=1))
    runtime = Runtime(
        engine=file_engine, policy=POLICY, rules=RULES, clock=clock, survey_secret=SECRET
    )
    event = surveys.SurveyAnswered(person(slack_member), round_id, "energy", score=4)
    assert isinstance(slack_survey._answer_in(event, session, runtime=runtime), surveys.Answered)
    tess = Person("teams", None, "aad-0001", "Tess")
    data: dict[str, Any] = {"q_energy": "3"}
    current, problems, _ = teams_cards._record_answers(
        session, runtime, tess, round_id, data, now=T0 + timedelta(hours=1)
    )
    assert current is not None and current["answers"] == {"energy": 3}, problems
    session.commit()
    expected = {token(SECRET, f"{round_id}:{m.id}") for m in (slack_member, teams_member)}
    assert stored_tokens(session, round_id) == expected


def test_serving_chat_with_an_anonymous_survey_needs_the_survey_secret() -> None:
    chat = Settings.model_validate(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32, "PLAUDIT_CONFIG": "x"}
    )
    with pytest.raises(UsageError, match="PLAUDIT_SURVEY_SECRET is required"):
        survey_secret(chat, (PULSE,), serving=True)
    assert survey_secret(chat, (PULSE,), serving=False) is None  # no answers come in
    named = surveys.Survey(**{**PULSE.__dict__, "anonymous": False})
    assert survey_secret(chat, (named,), serving=True) is None
    configured = chat.model_copy(update={"survey_secret": SecretStr(SECRET.decode())})
    assert survey_secret(configured, (PULSE,), serving=True) == SECRET
    with pytest.raises(ValueError, match="at least 32"):
        Settings.model_validate({"PLAUDIT_SURVEY_SECRET": "short"})

"""Faults and fuzz: odd input never gets a 500, and a lost database connection costs a polite
answer, not a half-written record or a restart."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlmodel import Session, func, select

from storage import migrate
from storage.db import make_engine
from storage.models import Recognition, RecognitionRecipient
from tests.conftest import PG_URL
from tests.fakes.slack_api import FakeSlack
from tests.harness import TOKEN, Server

MENTIONS = st.sampled_from(
    ["<@U0002|bob>", "<@U0003>", "<#C0001|general>", "<!here>", "<!subteam^S1|@team>"]
)
WORDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=1), min_size=0, max_size=40
)
COMMAND_TEXT = st.lists(
    st.one_of(MENTIONS, WORDS, st.sampled_from(["#collaboration", "me", "help"])), max_size=8
).map(" ".join)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}")
    migrate.upgrade(engine)
    with FakeSlack(token=TOKEN, team_id="T0001") as slack:
        slack.add_user("U0001", "alice", email="alice@example.com")
        slack.add_user("U0002", "bob", email="bob@example.com")
        env = {"PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED": "true"}
        running = Server(engine, slack_api_url=slack.base_url, env=env).start()
        try:
            yield running
        finally:
            running.stop()
            engine.dispose()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text_=COMMAND_TEXT)
def test_any_kudos_text_gets_an_answer_never_an_error(fuzz_server: Server, text_: str) -> None:
    response = fuzz_server.command(text_)
    assert response.status_code == 200
    if response.content:
        answer = response.json()
        assert "Something went wrong" not in answer.get("text", "")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    event=st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["reaction_added", "reaction_removed", "message", "app_home_opened"]
            )
        },
        optional={"user": st.text(max_size=12), "reaction": st.text(max_size=12), "item": JSON},
    ),
    extra=st.dictionaries(st.sampled_from(["team_id", "api_app_id", "event_id"]), JSON, max_size=3),
)
def test_any_event_payload_is_acknowledged_without_a_500(
    fuzz_server: Server, event: dict[str, object], extra: dict[str, object]
) -> None:
    envelope = {"type": "event_callback", "event": event, **extra}
    response = fuzz_server.event(envelope)
    assert response.status_code < 500


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=JSON, kind=st.sampled_from(["message", "invoke", "messageReaction", "conversationUpdate"])
)
def test_any_teams_activity_gets_a_4xx_or_an_answer_never_a_500(
    fuzz_server: Server, body: object, kind: str
) -> None:
    activity = body if not isinstance(body, dict) else {"type": kind, **body}
    response = httpx.post(
        f"{fuzz_server.base_url}/api/messages",
        content=json.dumps(activity).encode(),
        headers={"Content-Type": "application/json"},
        timeout=15,
    )
    assert response.status_code < 500 or response.status_code == 503


@pytest.mark.skipif(not PG_URL, reason="PLAUDIT_TEST_DATABASE_URL is not set")
def test_a_dropped_database_connection_costs_a_polite_answer_and_heals() -> None:
    """Every connection of the app is cut in the middle of traffic (as when PostgreSQL
    restarts): the requests caught by it get Slack's friendly apology, nothing is half
    written, and later requests succeed without restarting the app."""
    name = f"plaudit-fault-{uuid.uuid4().hex[:8]}"
    schema = f"plaudit_fault_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(  # as make_engine's: no ping before each checkout
        make_engine(PG_URL).url,
        connect_args={"options": f"-csearch_path={schema}", "application_name": name},
    )
    migrate.upgrade(engine)
    try:
        with FakeSlack(token=TOKEN, team_id="T0001") as slack:
            for i in range(1, 12):
                slack.add_user(f"U{i:04d}", f"user{i}", email=f"user{i}@example.com")
            running = Server(engine, slack_api_url=slack.base_url).start()
            try:
                answers: list[str] = []
                for i in range(30):
                    if i == 10:
                        with admin.begin() as conn:
                            cut = conn.execute(
                                text(
                                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE application_name = :n"
                                ),
                                {"n": name},
                            ).all()
                        assert cut and all(ok for (ok,) in cut)  # the app's sessions died
                    giver = f"U{1 + i % 10:04d}"
                    response = running.command(
                        f"<@U0011|user11> thanks for the launch checklist number {i}",
                        user_id=giver,
                    )
                    assert response.status_code == 200
                    answers.append(response.json()["text"])
                    time.sleep(0.02)
                recorded = [a for a in answers if "Kudos recorded" in a]
                apologies = [a for a in answers if "Something went wrong" in a]
                assert len(recorded) + len(apologies) == 30
                assert all("Kudos recorded" in a for a in answers[-10:])  # healed
                with Session(engine) as s:
                    kudos = s.exec(select(func.count()).select_from(Recognition)).one()
                    points = s.exec(select(func.count()).select_from(RecognitionRecipient)).one()
                # Every recorded kudos is whole (one recipient row each), and only those.
                assert kudos == points == len(recorded)
            finally:
                running.stop()
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

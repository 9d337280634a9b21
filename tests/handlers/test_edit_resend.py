"""Edit and resend: a kudos the compliance gate blocked comes back in the form, with its
recipients filled in, on the platform it was given on (Slack and Teams)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from handlers import kudos, members
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage.models import Recognition
from tests.fakes.bot_connector import ADELE, ALEX, MEGAN, FakeConnector
from tests.fakes.slack_api import FakeSlack
from tests.harness import PAYLOADS, TOKEN, Server

SLACK_BLOCKED = (
    "<@U0002|bob> <@U0003|carol> the Oncozol email calls it the best treatment #collaboration"
)
TEAMS_BLOCKED = (
    "<at>Plaudit</at> kudos <at>Megan Bowen</at> <at>Alex Wilber</at> for telling the agency "
    "Larkspur is the best treatment for migraine on the market #digital-content"
)


def recognitions(engine: Engine) -> list[Recognition]:
    with Session(engine) as s:
        return list(s.exec(select(Recognition).order_by(col(Recognition.id))))


# -------------------------------------------------------------------- the use case


def blocked(session: Session, giver: Person, *recipients: Person, clock: FixedClock) -> int:
    event = KudosRequested(
        key="edit-1",
        giver=giver,
        recipients=recipients,
        message="the Oncozol email calls it the best treatment #collaboration",
        values=("#collaboration",),
        source="command",
        channel_id="C0GENERAL",
    )
    result = kudos.give(event, session=session, policy=KudosPolicy(), clock=clock)
    session.commit()
    assert isinstance(result, kudos.Stopped) and result.outcome.value == "block"
    return result.recognition_id


def test_the_draft_names_the_recipients_on_the_givers_platform(
    session: Session, clock: FixedClock, alice: Person, bob: Person, carol: Person
) -> None:
    recognition_id = blocked(session, alice, bob, carol, clock=clock)

    draft = kudos.draft(recognition_id, alice, session=session)

    assert draft is not None
    assert [(p.platform, p.workspace, p.user_id) for p in draft.recipients] == [
        ("slack", "T0001", "U0002"),
        ("slack", "T0001", "U0003"),
    ]
    assert [p.display_name for p in draft.recipients] == ["Bob", "Carol"]
    assert draft.value == "#collaboration" and "best" not in draft.text


def test_a_recipient_with_no_identity_on_the_givers_platform_is_left_out(
    session: Session, clock: FixedClock, alice: Person, bob: Person, carol: Person
) -> None:
    recognition_id = blocked(session, alice, bob, carol, clock=clock)
    # Alice and Carol also use Teams (linked by email); Bob does not.
    alice_teams = replace(alice, platform="teams", workspace="tenant", user_id="aad-alice")
    carol_teams = replace(carol, platform="teams", workspace="tenant", user_id="aad-carol")
    members.upsert_many([alice_teams, carol_teams], session=session, now=clock.now())
    session.commit()

    draft = kudos.draft(recognition_id, alice_teams, session=session)

    assert draft is not None
    assert [(p.platform, p.workspace, p.user_id) for p in draft.recipients] == [
        ("teams", None, "aad-carol")
    ]


def test_only_the_giver_gets_a_draft(
    session: Session, clock: FixedClock, alice: Person, bob: Person, carol: Person
) -> None:
    recognition_id = blocked(session, alice, bob, carol, clock=clock)

    assert kudos.draft(recognition_id, bob, session=session) is None


# -------------------------------------------------------------------- Slack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, team_id="T0001")
    fake.add_user("U0001", "alice", email="alice@example.com", tz="Europe/London")
    fake.add_user("U0002", "bob", email="bob@example.com", tz="Europe/Berlin")
    fake.add_user("U0003", "carol", email="carol@example.com", tz="America/New_York")
    with fake:
        yield fake


def edit_click(recognition: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": "U0001", "username": "alice", "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "trigger_id": f"trigger-edit-{time.monotonic_ns()}",
        "container": {"type": "message", "message_ts": "1700000000.000900", "channel_id": "C0001"},
        "channel": {"id": "C0001", "name": "general"},
        "actions": [
            {
                "type": "button",
                "action_id": "kudos_edit",
                "block_id": f"kudos_{recognition}",
                "value": recognition,
                "action_ts": "1700000001.000100",
            }
        ],
    }


def test_slack_edit_and_resend_opens_the_form_with_the_recipients(
    file_engine: Engine, slack: FakeSlack
) -> None:
    running = Server(file_engine, slack_api_url=slack.base_url).start()
    try:
        answer = running.command(SLACK_BLOCKED)
        [stopped] = recognitions(file_engine)
        assert stopped.outcome == "block"
        edit = answer.json()["blocks"][1]["elements"][0]
        assert edit["action_id"] == "kudos_edit"

        assert running.interaction(edit_click(edit["value"])).status_code == 200

        (opened,) = slack.wait_for("views.open")
        view = opened.args["view"]
        view = json.loads(view) if isinstance(view, str) else view
        inputs = {b["block_id"]: b["element"] for b in view["blocks"]}
        assert inputs["recipients"]["initial_users"] == ["U0002", "U0003"]
        assert inputs["value"]["initial_option"]["value"] == "#collaboration"
    finally:
        running.stop()


# -------------------------------------------------------------------- Teams


@pytest.fixture
def connector() -> Iterator[FakeConnector]:
    fake = FakeConnector()
    with fake:
        fake.add_people()
        yield fake


def teams_activity(name: str, connector: FakeConnector, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / "teams" / name).read_text(encoding="utf-8"))
    data["serviceUrl"] = connector.service_url
    data.update(changes)
    return data


def teams_send(server: Server, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.base_url}/api/messages", json=body, timeout=15)


def test_teams_edit_and_resend_brings_the_form_back_with_the_recipients(
    file_engine: Engine, connector: FakeConnector
) -> None:
    running = Server(
        file_engine,
        slack_api_url=None,
        env={"PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED": "true"},
        policy=KudosPolicy(reviewers=(MEGAN.email,)),
    ).start()
    try:
        given = teams_activity("message_kudos_channel.json", connector, text=TEAMS_BLOCKED)
        assert teams_send(running, given).status_code == 200
        [stopped] = recognitions(file_engine)
        assert stopped.outcome == "block"

        press = teams_activity("invoke_adaptive_card_action.json", connector)
        assert press["from"]["aadObjectId"] == ADELE.aad_id  # the giver
        data = {"verb": "kudos.edit", "recognition_id": stopped.id}
        press["value"]["action"] |= {"verb": "kudos.edit", "title": "Edit and resend", "data": data}
        answer = teams_send(running, press)

        assert answer.status_code == 200
        form = answer.json()["value"]
        inputs = {b.get("id"): b for b in form["body"]}
        assert inputs["recipients"]["value"] == f"{MEGAN.aad_id},{ALEX.aad_id}"
        assert inputs["value"]["value"] == "#digital-content"
        assert inputs["message"]["value"]
    finally:
        running.stop()

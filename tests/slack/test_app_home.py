"""The App Home tab over HTTP with the strict fake Slack: published on opening the Home tab
(not the Messages tab) with the person's numbers, their place on the board and the kudos they
received; its "Give kudos" button opens the same form as `/kudos`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.slack.home import GIVE
from tests.fakes.slack_api import FakeSlack, refusal
from tests.harness import TOKEN, Server, payload


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, team_id="T0001")
    fake.add_user("U0001", "alice", email="alice@example.com")
    fake.add_user("U0002", "bob", email="bob@example.com")
    with fake:
        yield fake


@pytest.fixture
def server(file_engine: Engine, slack: FakeSlack) -> Iterator[Server]:
    running = Server(file_engine, slack_api_url=slack.base_url).start()
    yield running
    running.stop()


def _opened(user: str, tab: str) -> dict[str, Any]:
    envelope = payload("event_app_home_opened.json")
    envelope["event"] |= {"user": user, "tab": tab}
    envelope["event_id"] = f"Ev{user}{tab}"
    return envelope


def _words(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False)


def test_the_home_tab_shows_numbers_rank_and_received_kudos(
    server: Server, slack: FakeSlack
) -> None:
    given = server.command("<@U0002|bob> for the congress booth rota #collaboration")
    assert given.status_code == 200
    before = len(slack.wait_for("views.publish", 2))  # (drawn again after the kudos)

    assert server.event(_opened("U0002", "messages")).status_code == 200
    assert server.event(_opened("U0002", "home")).status_code == 200
    published = slack.wait_for("views.publish", before + 1)[-1]
    assert len(slack.calls("views.publish")) == before + 1  # the Messages tab draws nothing
    assert refusal("views.publish", published.args) is None  # Slack takes it as it is
    assert published.args["user_id"] == "U0002"
    view = published.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    shown = _words(view)
    assert view["type"] == "home"
    assert "*1* received and *0* given this quarter" in shown
    assert "*5* of 5 left to give today" in shown
    assert "You are number *1* with *1* points" in shown
    assert "alice" in shown and "congress booth rota" in shown
    assert GIVE in shown


def test_give_kudos_on_the_home_tab_opens_the_kudos_form(server: Server, slack: FakeSlack) -> None:
    clicked = server.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": "U0001", "team_id": "T0001"},
            "trigger_id": "home-1",
            "container": {"type": "view", "view_id": "VHOME"},
            "view": {"id": "VHOME", "type": "home", "blocks": []},
            "actions": [
                {
                    "type": "button",
                    "action_id": GIVE,
                    "block_id": "home_actions",
                    "action_ts": "1700000000.000001",
                }
            ],
        }
    )
    assert clicked.status_code == 200
    [opened] = slack.wait_for("views.open")
    assert refusal("views.open", opened.args) is None
    assert opened.args["trigger_id"] == "home-1"


def test_a_kudos_draws_the_giver_and_recipient_homes_again(
    server: Server, slack: FakeSlack
) -> None:
    assert server.event(_opened("U0002", "home")).status_code == 200
    first = slack.wait_for("views.publish")[-1].args["view"]
    assert "*0* received" in _words(first if isinstance(first, dict) else json.loads(first))

    given = server.command("<@U0002|bob> for the congress booth rota #collaboration")
    assert given.status_code == 200

    calls = slack.wait_for("views.publish", 3)
    drawn = {c.args["user_id"]: c.args["view"] for c in calls[1:]}
    assert set(drawn) == {"U0001", "U0002"}
    for call in calls:
        assert refusal("views.publish", call.args) is None
    bob = drawn["U0002"]
    shown = _words(bob if isinstance(bob, dict) else json.loads(bob))
    assert "*1* received" in shown and "congress booth rota" in shown
    alice = drawn["U0001"]
    assert "*1* given" in _words(alice if isinstance(alice, dict) else json.loads(alice))

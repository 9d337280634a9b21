"""Slack over real HTTP: signed requests into the running app, a fake Slack Web API behind it."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from storage.models import InboundEvent, Outbox, Recognition
from tests.fakes.slack_api import FakeSlack
from tests.harness import SECRET, TOKEN, Server, eventually, payload, signed_headers


@pytest.fixture
def app_engine(file_engine: Engine) -> Engine:
    return file_engine


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, team_id="T0001")
    fake.add_user("U0001", "alice", email="alice@example.com", tz="Europe/London")
    fake.add_user("U0002", "bob", email="bob@example.com", tz="Europe/Berlin")
    fake.add_user("U0003", "carol", email="carol@example.com", tz="America/New_York")
    fake.add_user("UBOT2", "deploybot", is_bot=True)
    with fake:
        yield fake


@pytest.fixture
def server(app_engine: Engine, slack: FakeSlack) -> Iterator[Server]:
    running = Server(app_engine, slack_api_url=slack.base_url).start()
    yield running
    running.stop()


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def settle(seconds: float = 0.4) -> None:
    """Give the dispatcher time to (wrongly) send more than it should have."""
    time.sleep(seconds)


def test_health_reports_ready(server: Server) -> None:
    response = httpx.get(f"{server.base_url}/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["slack"] is True


def test_kudos_is_answered_privately_and_posted_publicly(
    server: Server, slack: FakeSlack, app_engine: Engine
) -> None:
    response = server.command(
        "<@U0002|bob> <@U0003|carol> for the site activation email #site-activation"
    )

    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert "Kudos recorded for bob, carol" in answer["text"]
    assert "3 left today" in answer["text"]
    posts = slack.wait_for("chat.postMessage", 3)
    channels = sorted(call.args["channel"] for call in posts)
    assert channels == ["C0KUDOS", "U0002", "U0003"]
    public = next(c for c in posts if c.args["channel"] == "C0KUDOS")
    blocks = json.dumps(public.args["blocks"])
    assert "<@U0001>" in blocks and "<@U0002>" in blocks and "<@U0003>" in blocks
    assert "for the site activation email" in blocks

    def all_delivered() -> bool:
        with Session(app_engine) as s:
            rows = list(s.exec(select(Outbox)))
        return len(rows) == 3 and all(o.status == "delivered" and o.message_ref for o in rows)

    eventually(all_delivered)


def test_user_text_cannot_ping_or_link(server: Server, slack: FakeSlack) -> None:
    response = server.command(
        "<@U0002|bob> for the launch <!channel> <!here> "
        "see <https://evil.example|the doc> #collaboration"
    )
    assert "Kudos recorded" in response.json()["text"]
    public = next(
        c for c in slack.wait_for("chat.postMessage", 2) if c.args["channel"] == "C0KUDOS"
    )
    rendered = json.dumps(public.args["blocks"]) + public.args["text"]
    assert "<!channel>" not in rendered and "<!here>" not in rendered
    assert "&lt;!channel&gt;" in rendered
    assert "evil.example" not in rendered


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"secret": "wrong-secret"}, "wrong signature"),
        ({"ts": int(time.time()) - 600}, "stale timestamp"),
        ({}, "no signature"),
    ],
)
def test_unsigned_or_badly_signed_requests_get_401_and_change_nothing(
    server: Server, app_engine: Engine, headers: dict[str, Any], why: str
) -> None:
    body = (
        b"command=%2Fkudos&text=%3C%40U0002%7Cbob%3E+for+the+great+launch"
        b"&team_id=T0001&user_id=U0001&trigger_id=t1"
    )
    sent = (
        signed_headers(body, secret=headers.get("secret", SECRET), ts=headers.get("ts"))
        if headers
        else {}
    )
    response = server.post(body, content_type="application/x-www-form-urlencoded", headers=sent)
    assert response.status_code == 401, why
    assert count(app_engine, Recognition) == 0


def test_a_signature_with_non_ascii_bytes_gets_401_not_an_error(
    server: Server, app_engine: Engine
) -> None:
    body = b"command=%2Fkudos&text=hello+there+friend&team_id=T0001&user_id=U0001"
    stamp = signed_headers(body)["X-Slack-Request-Timestamp"]
    response = httpx.post(
        f"{server.base_url}/slack/events",
        content=body,
        headers=[
            (b"Content-Type", b"application/x-www-form-urlencoded"),
            (b"X-Slack-Request-Timestamp", stamp.encode()),
            (b"X-Slack-Signature", "v0=\u00e9".encode("latin-1") + b"0" * 63),
        ],
        timeout=10,
    )
    assert response.status_code == 401
    assert count(app_engine, Recognition) == 0


def test_a_replayed_request_is_refused(server: Server, app_engine: Engine) -> None:
    envelope = payload("event_reaction_added.json")
    body = json.dumps(envelope).encode()
    headers = signed_headers(body)
    first = server.post(body, content_type="application/json", headers=headers)
    again = server.post(body, content_type="application/json", headers=headers)
    assert first.status_code == 200
    assert again.status_code == 401
    assert count(app_engine, Recognition) == 1


def test_a_reaction_delivered_three_times_counts_once_and_posts_once(
    server: Server, slack: FakeSlack, app_engine: Engine
) -> None:
    envelope = payload("event_reaction_added.json")
    for retry in (None, 1, 2):
        assert server.event(envelope, retry=retry).status_code == 200
    slack.wait_for("chat.postMessage", 2)  # public post + DM to the author
    settle()
    assert count(app_engine, Recognition) == 1
    assert len(slack.calls("chat.postMessage")) == 2
    assert count(app_engine, InboundEvent) == 1


def test_removing_the_reaction_the_same_day_takes_the_kudos_back(
    server: Server, slack: FakeSlack, app_engine: Engine
) -> None:
    added = payload("event_reaction_added.json")
    removed = payload("event_reaction_removed.json")
    removed["event"]["item"] = copy.deepcopy(added["event"]["item"])
    removed["event"]["user"] = added["event"]["user"]
    removed["event"]["reaction"] = added["event"]["reaction"]
    assert server.event(added).status_code == 200
    assert server.event(removed).status_code == 200
    with Session(app_engine) as s:
        recognition = s.exec(select(Recognition)).one()
    assert recognition.revoked_at is not None
    readded = copy.deepcopy(added)
    readded["event_id"] = "Ev-readded"
    assert server.event(readded).status_code == 200
    with Session(app_engine) as s:
        assert s.exec(select(Recognition)).one().revoked_at is None
    assert count(app_engine, Recognition) == 1


def test_a_reaction_with_another_emoji_is_ignored(server: Server, app_engine: Engine) -> None:
    envelope = payload("event_reaction_added.json")
    envelope["event"]["reaction"] = "thinking_face"
    assert server.event(envelope).status_code == 200
    assert count(app_engine, Recognition) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@U0404|ghost> for the site activation email", "can't find U0404"),
        ("<@U0001|alice> for the site activation email", "yourself"),
        ("<@UBOT2|deploybot> for the site activation email", "Bots don't need kudos"),
        ("<!subteam^S0001|@marketing> for the site activation email", "not to channels or groups"),
        ("<#C0009|general> for the site activation email", "not to channels or groups"),
        ("<@U0002|bob> thx", "at least 10 characters"),
        ("<@U0002|bob> for the launch #speed", "not one of our values"),
        ("for the site activation email", "Who is it for?"),
        ("<@U0002|bob> " + "great work " * 1000, "too long"),
    ],
)
def test_bad_kudos_get_a_polite_answer_and_change_nothing(
    server: Server, app_engine: Engine, slack: FakeSlack, text: str, expected: str
) -> None:
    response = server.command(text)
    assert response.status_code == 200
    assert expected in response.json()["text"]
    assert count(app_engine, Recognition) == 0
    assert count(app_engine, Outbox) == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe\x00not-utf8", "application/x-www-form-urlencoded"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b"payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
        (b"just some text", "text/plain"),
        (b'{"type": ', "application/json"),
        (b"a=1&b=2", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_but_signed_bodies_get_400(
    server: Server, app_engine: Engine, body: bytes, content_type: str
) -> None:
    response = server.post(body, content_type=content_type, headers=signed_headers(body))
    assert response.status_code == 400
    assert count(app_engine, Recognition) == 0


def test_help_and_me(server: Server) -> None:
    assert "/kudos @colleague" in server.command("help").json()["text"]
    server.command("<@U0002|bob> for the site activation email")
    me = server.command("me").json()["text"]
    assert "gave 1" in me and "4 of 5 left" in me


def test_kudos_alone_opens_the_form_and_the_form_records(
    server: Server, slack: FakeSlack, app_engine: Engine
) -> None:
    assert server.command("", trigger_id="trig-modal").status_code == 200
    (opened,) = slack.wait_for("views.open")
    assert opened.args["trigger_id"] == "trig-modal"
    submission = payload("view_submission_kudos.json")
    submission["view"]["private_metadata"] = "C0001"
    response = server.interaction(submission)
    assert response.status_code == 200
    assert count(app_engine, Recognition) == 1
    ephemeral = slack.wait_for("chat.postEphemeral")
    assert ephemeral[0].args["user"] == submission["user"]["id"]


def test_a_form_with_a_refused_kudos_shows_the_error_in_the_form(
    server: Server, app_engine: Engine
) -> None:
    submission = payload("view_submission_kudos.json")
    values = submission["view"]["state"]["values"]
    values["recipients"]["users"]["selected_users"] = [submission["user"]["id"]]
    response = server.interaction(submission)
    assert response.status_code == 200
    body = response.json()
    assert body["response_action"] == "errors"
    assert "yourself" in body["errors"]["recipients"]
    assert count(app_engine, Recognition) == 0


def test_url_verification_and_unsubscribed_events_are_acknowledged(server: Server) -> None:
    challenge = payload("url_verification.json")
    response = server.event(challenge)
    assert response.status_code == 200
    assert challenge["challenge"] in response.text
    assert server.event(payload("event_app_home_opened.json")).status_code == 200


def test_slack_off_without_tokens(app_engine: Engine) -> None:
    running = Server(app_engine, slack_api_url=None).start()
    try:
        health = httpx.get(f"{running.base_url}/healthz").json()
        assert health["slack"] is False
        response = httpx.post(f"{running.base_url}/slack/events", content=b"x")
        assert response.status_code == 404
        assert "SLACK_BOT_TOKEN" in response.json()["detail"]
    finally:
        running.stop()


def block_action(action_id: str, value: str, user: str, channel: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "trigger_id": f"trigger-{action_id}-{value}-{time.monotonic_ns()}",
        "container": {"type": "message", "message_ts": "1700000000.000900", "channel_id": channel},
        "channel": {"id": channel, "name": "compliance-review"},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"review_{value}",
                "value": value,
                "action_ts": "1700000001.000100",
            }
        ],
    }


@pytest.fixture
def review_server(app_engine: Engine, slack: FakeSlack) -> Iterator[Server]:
    from handlers.policy import KudosPolicy

    slack.add_user("U0REV", "rae", email="ra@example.com")
    policy = KudosPolicy(
        recognition_channel="C0KUDOS", review_channel="C0REVIEW", reviewers=("U0REV",)
    )
    running = Server(app_engine, slack_api_url=slack.base_url, policy=policy).start()
    yield running
    running.stop()


def test_rejecting_from_slack_asks_for_a_reason(
    review_server: Server, slack: FakeSlack, app_engine: Engine
) -> None:
    review_server.command("<@U0002|bob> great idea to show Cardivex in pregnancy at the booth")
    slack.wait_for("chat.postMessage")  # the review card
    assert (
        review_server.interaction(
            block_action("review_reject", "1", "U0REV", "C0REVIEW")
        ).status_code
        == 200
    )
    (opened,) = slack.wait_for("views.open")
    view = opened.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    submission = payload("view_submission_kudos.json")
    submission["user"] = {"id": "U0REV", "team_id": "T0001"}
    submission["view"] = {
        **view,
        "id": "V0REJECT",
        "state": {"values": {"reason": {"text": {"type": "plain_text_input", "value": ""}}}},
    }
    empty = review_server.interaction(submission).json()
    assert empty["response_action"] == "errors" and "Say why" in empty["errors"]["reason"]
    submission["view"]["state"]["values"]["reason"]["text"]["value"] = "Off-label population"
    assert review_server.interaction(submission).status_code == 200
    dm = next(c for c in slack.wait_for("chat.postMessage", 2) if c.args["channel"] == "U0001")
    assert "Off-label population" in dm.args["text"]


def test_ready_when_the_schema_is_current_and_delivery_runs(server: Server) -> None:
    # The only replica takes the scheduler lock within moments of starting.
    eventually(lambda: httpx.get(f"{server.base_url}/readyz").json().get("scheduler") == "leader")
    body = httpx.get(f"{server.base_url}/readyz").json()
    assert body == {
        "status": "ready",
        "database": "ok",
        "migrations": "current",
        "dispatcher": "running",
        "scheduler": "leader",
        "drug_safety": ["slack:C0SAFETY"],
        # No audit key in this test's settings: entries wait, unsealed, for one.
        "audit": {
            "sealer": "off",
            "sealed": 0,
            "unsealed": 0,
            "unsealed_over_10s": 0,
            "checkpoint_at": None,
            "problem": None,
        },
    }


def test_not_ready_when_the_schema_is_behind(app_engine: Engine, slack: FakeSlack) -> None:
    from storage import migrate

    migrate.downgrade(app_engine, "-1")
    running = Server(app_engine, slack_api_url=slack.base_url).start()
    try:
        response = httpx.get(f"{running.base_url}/readyz")
        assert response.status_code == 503
        assert response.json()["migrations"].startswith("at ")
    finally:
        running.stop()
        migrate.upgrade(app_engine)


def test_one_person_cannot_flood_the_bot(server: Server, app_engine: Engine) -> None:
    from bot.chat.ratelimit import PerUserLimit

    server.runtime.limiter = PerUserLimit(per_minute=6, burst=2)
    answers = [server.command("help").json()["text"] for _ in range(3)]
    assert "Plaudit" in answers[0] and "Plaudit" in answers[1]
    assert "faster than Plaudit accepts" in answers[2]
    refused = server.command("<@U0002|bob> for the launch checklist #collaboration").json()
    assert "faster than Plaudit accepts" in refused["text"]
    assert count(app_engine, Recognition) == 0
    # Someone else is not held up by it.
    assert "Plaudit" in server.command("help", user_id="U0002").json()["text"]

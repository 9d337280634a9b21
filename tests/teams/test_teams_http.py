"""Teams over real HTTP: Activity JSON posted to /api/messages of the running app, a fake
Bot Connector on loopback as the serviceUrl, recording what the bot sends back."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from handlers.policy import KudosPolicy
from storage.models import Member, Outbox, Recognition, RecognitionRecipient
from tests.fakes.bot_connector import (
    ADELE,
    ALEX,
    BOT_APP_ID,
    BOT_APP_PASSWORD,
    MEGAN,
    TENANT_ID,
    FakeConnector,
    spec_check,
    submitted,
)
from tests.harness import PAYLOADS, Server, eventually

TEAMS = PAYLOADS / "teams"
SPEC_ABSENT = "../shared/specs/botframework/ConnectorAPI.json is not present (it ships separately)"


def activity(name: str, connector: FakeConnector, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TEAMS / name).read_text(encoding="utf-8"))
    data["serviceUrl"] = connector.service_url
    data.update(changes)
    return data


def send(server: Server, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{server.base_url}/api/messages", json=body, headers=headers, timeout=15)


@pytest.fixture
def connector(teams_sdk: str) -> Iterator[FakeConnector]:
    fake = FakeConnector()
    with fake:
        fake.add_people()
        yield fake


def teams_server(
    engine: Engine, *, env: dict[str, str] | None = None, policy: KudosPolicy | None = None
) -> Server:
    return Server(
        engine,
        slack_api_url=None,
        env=env or {"PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED": "true"},
        policy=policy or KudosPolicy(reviewers=(MEGAN.email,)),
    )


@pytest.fixture
def server(file_engine: Engine, teams_sdk: str) -> Iterator[Server]:
    running = teams_server(file_engine).start()
    yield running
    running.stop()


def recognitions(engine: Engine) -> list[Recognition]:
    with Session(engine) as s:
        return list(s.exec(select(Recognition).order_by(col(Recognition.id))))


def points(engine: Engine, email: str) -> int:
    with Session(engine) as s:
        member = s.exec(select(Member).where(Member.email == email)).one()
        rows = s.exec(
            select(RecognitionRecipient, Recognition)
            .join(Recognition, col(Recognition.id) == col(RecognitionRecipient.recognition_id))
            .where(RecognitionRecipient.member_id == member.id)
        ).all()
        return sum(1 for _, r in rows if r.revoked_at is None and r.outcome in ("pass", "warn"))


def cards(sent: list[Any]) -> list[dict[str, Any]]:
    return [
        a["content"]
        for s in sent
        for a in s.body.get("attachments") or []
        if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
    ]


def card_text(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


def public_kudos(connector: FakeConnector, channel: str) -> list[Any]:
    return [
        s
        for s in connector.activities(channel)
        if any("React to this card" in card_text(c) for c in cards([s]))
    ]


# -------------------------------------------------------------------- kudos by mention


def test_kudos_by_mention_in_a_channel(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    body = activity("message_kudos_channel.json", connector)
    response = send(server, body)
    assert response.status_code == 200

    [kudos] = recognitions(file_engine)
    assert kudos.platform == "teams" and kudos.outcome == "pass"
    assert kudos.value_tags == ["#site-activation"]
    assert "@Megan Bowen" not in kudos.text and "site activation email" in kudos.text
    with Session(file_engine) as s:
        giver = s.get(Member, kudos.giver_id)
        assert giver is not None
        assert giver.email == ADELE.email and giver.teams_aad_id == ADELE.aad_id
        assert giver.timezone == "America/New_York"
    assert points(file_engine, MEGAN.email) == 1 and points(file_engine, ALEX.email) == 1

    # The public card goes into the thread the kudos was given in, mentioning both people.
    thread = body["conversation"]["id"]
    eventually(lambda: len(public_kudos(connector, thread)) == 1)
    [post] = public_kudos(connector, thread)
    assert post.kind == "send" and post.conversation_id == thread
    [card] = cards([post])
    mentioned = {e["mentioned"]["id"] for e in card["msteams"]["entities"]}
    assert mentioned == {ADELE.aad_id, MEGAN.aad_id, ALEX.aad_id}
    # Each recipient hears of it in their own 1:1 chat, opened by the bot.
    eventually(lambda: len(connector.calls("POST", "/v3/conversations")) >= 2)
    eventually(
        lambda: sum("gave you kudos" in json.dumps(s.body) for s in connector.activities()) == 2
    )
    opened = [c for c in connector.calls("POST") if c.path.rstrip("/").endswith("/conversations")]
    members = {m["id"] for c in opened for m in c.body["members"]}
    assert members == {MEGAN.user_id, ALEX.user_id}


def test_the_same_activity_delivered_twice_counts_once(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    body = activity("message_kudos_channel.json", connector)
    assert send(server, body).status_code == 200
    assert send(server, copy.deepcopy(body)).status_code == 200

    assert len(recognitions(file_engine)) == 1
    thread = body["conversation"]["id"]
    eventually(lambda: len(public_kudos(connector, thread)) == 1)
    time.sleep(0.5)
    assert len(public_kudos(connector, thread)) == 1


def test_kudos_in_a_personal_chat_answers_privately(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    body = activity("message_kudos_personal.json", connector)
    assert send(server, body).status_code == 200

    [kudos] = recognitions(file_engine)
    assert kudos.channel_id is None  # no public channel configured: no public card
    chat = body["conversation"]["id"]
    eventually(
        lambda: any("Kudos recorded" in card_text(c) for c in cards(connector.activities(chat)))
    )
    assert not public_kudos(connector, chat)


def test_kudos_alone_opens_the_form(server: Server, connector: FakeConnector) -> None:
    body = activity("message_kudos_personal.json", connector, text="kudos", entities=[])
    assert send(server, body).status_code == 200

    chat = body["conversation"]["id"]
    eventually(lambda: bool(cards(connector.activities(chat))))
    [form] = cards(connector.activities(chat))
    inputs = {b.get("id"): b for b in form["body"]}
    assert inputs["recipients"]["choices.data"]["dataset"] == "graph.microsoft.com/users"
    assert inputs["recipients"]["isMultiSelect"] is True
    assert [c["value"] for c in inputs["value"]["choices"]][:1] == ["#patient-enrollment"]
    [action] = form["actions"]
    assert action["type"] == "Action.Execute" and action["verb"] == "kudos.give"
    assert action["fallback"]["type"] == "Action.Submit"


@pytest.mark.parametrize("text", ["help", "what is this", "", "kudos help"])
def test_help_and_unknown_words_get_the_help_text(
    server: Server, connector: FakeConnector, file_engine: Engine, text: str
) -> None:
    body = activity("message_kudos_personal.json", connector, text=text, entities=[])
    assert send(server, body).status_code == 200
    chat = body["conversation"]["id"]
    eventually(
        lambda: any("@Plaudit kudos" in json.dumps(s.body) for s in connector.activities(chat))
    )
    assert recognitions(file_engine) == []


# -------------------------------------------------------------------- the card


def test_card_action_execute_gives_kudos_and_answers_with_a_card(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    response = send(server, activity("invoke_adaptive_card_action.json", connector))

    assert response.status_code == 200
    answer = response.json()
    assert answer["statusCode"] == 200
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Kudos recorded for Megan Bowen, Alex Wilber" in card_text(answer["value"])
    [kudos] = recognitions(file_engine)
    assert kudos.source == "modal" and kudos.value_tags == ["#site-activation"]
    assert points(file_engine, MEGAN.email) == 1


def test_card_refusal_returns_the_form_with_the_reason_and_records_nothing(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    body = activity("invoke_adaptive_card_action.json", connector)
    body["value"]["action"]["data"]["message"] = "ty"
    body["value"]["action"]["data"]["value"] = ""

    answer = send(server, body).json()

    form = answer["value"]
    assert "too short" in card_text(form).lower() or "at least" in card_text(form).lower()
    inputs = {b.get("id"): b for b in form["body"]}
    assert inputs["message"]["value"] == "ty"  # what they typed is kept
    assert inputs["recipients"]["value"] == body["value"]["action"]["data"]["recipients"]
    assert recognitions(file_engine) == []


def test_action_submit_fallback_gives_kudos(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    body = activity("message_card_submit.json", connector)
    assert send(server, body).status_code == 200

    [kudos] = recognitions(file_engine)
    assert kudos.source == "modal"
    chat = body["conversation"]["id"]
    eventually(
        lambda: any("Kudos recorded" in card_text(c) for c in cards(connector.activities(chat)))
    )


# -------------------------------------------------------------------- reactions


def _give_in_channel(server: Server, connector: FakeConnector) -> tuple[str, str]:
    body = activity("message_kudos_channel.json", connector)
    assert send(server, body).status_code == 200
    thread = body["conversation"]["id"]
    eventually(lambda: len(public_kudos(connector, thread)) == 1)
    card_id = public_kudos(connector, thread)[0].activity_id
    # Outcomes are written in batches: wait until the post's id is on record.
    eventually(lambda: delivered_ref(server.runtime.engine, "kudos.public") == card_id)
    return thread, card_id


def delivered_ref(engine: Engine, template: str) -> str | None:
    with Session(engine) as s:
        row = s.exec(select(Outbox).where(Outbox.template == template)).first()
        return row.message_ref if row else None


def test_a_reaction_on_the_kudos_card_seconds_it_once_and_removing_it_takes_it_back(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    _, card_id = _give_in_channel(server, connector)
    # Megan (a recipient) likes the card: one more point for Alex, none for herself.
    liked = activity("message_reaction_added.json", connector, replyToId=card_id)
    assert send(server, liked).status_code == 200
    assert send(server, copy.deepcopy(liked)).status_code == 200  # redelivered
    heart = activity(
        "message_reaction_added.json",
        connector,
        replyToId=card_id,
        id="f:heart",
        reactionsAdded=[{"type": "heart"}],
    )
    assert send(server, heart).status_code == 200
    assert points(file_engine, ALEX.email) == 2
    assert points(file_engine, MEGAN.email) == 1
    seconded = [r for r in recognitions(file_engine) if r.source == "reaction"]
    assert len(seconded) == 1 and sorted(seconded[0].reactions) == ["heart", "like"]

    for kind, ident in (("like", "f:unlike"), ("heart", "f:unheart")):
        removed = activity(
            "message_reaction_removed.json",
            connector,
            replyToId=card_id,
            id=ident,
            reactionsRemoved=[{"type": kind}],
        )
        assert send(server, removed).status_code == 200
    assert points(file_engine, ALEX.email) == 1


def test_reactions_on_other_messages_and_the_givers_own_do_nothing(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    _, card_id = _give_in_channel(server, connector)
    elsewhere = activity("message_reaction_added.json", connector, replyToId="1717000000000")
    assert send(server, elsewhere).status_code == 200
    own = activity("message_reaction_added.json", connector, replyToId=card_id, id="f:own")
    own["from"] = {"id": ADELE.user_id, "aadObjectId": ADELE.aad_id}
    assert send(server, own).status_code == 200
    angry = activity(
        "message_reaction_added.json",
        connector,
        replyToId=card_id,
        id="f:angry",
        reactionsAdded=[{"type": "angry"}],
    )
    assert send(server, angry).status_code == 200
    assert [r.source for r in recognitions(file_engine)] == ["command"]


# -------------------------------------------------------------------- delivery


def test_connector_throttling_is_retried_and_delivers_once(
    server: Server, connector: FakeConnector
) -> None:
    connector.fail_next(429, retry_after=1, path_contains="/activities")
    body = activity("message_kudos_channel.json", connector)
    assert send(server, body).status_code == 200
    thread = body["conversation"]["id"]
    eventually(lambda: len(public_kudos(connector, thread)) == 1, timeout=10)
    throttled = [c for c in connector.calls("POST", "/activities") if c.status == 429]
    assert len(throttled) == 1
    time.sleep(0.5)
    assert len(public_kudos(connector, thread)) == 1


def test_an_install_stores_the_chat_and_says_hello_once(
    server: Server, connector: FakeConnector
) -> None:
    body = activity("installation_update_add.json", connector)
    assert send(server, body).status_code == 200
    assert send(server, copy.deepcopy(body)).status_code == 200
    chat = body["conversation"]["id"]
    eventually(lambda: len(connector.activities(chat)) == 1)
    time.sleep(0.4)
    assert "Hi, I'm Plaudit" in json.dumps(connector.activities(chat)[0].body, ensure_ascii=False)


def test_requests_the_bot_makes_match_the_connector_api(
    server: Server, connector: FakeConnector
) -> None:
    _give_in_channel(server, connector)
    eventually(lambda: len(connector.calls("POST", "/v3/conversations")) >= 4)
    problems = [spec_check(c, case_sensitive=False) for c in connector.calls()]
    if any(p is None for p in problems):
        pytest.skip(reason=SPEC_ABSENT)
    assert [p for p in problems if p] == []


# -------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"type": "message"}', "application/json", 400),
        (b'{"text": "no type"}', "application/json", 400),
        (b"type=message", "application/x-www-form-urlencoded", 415),
        (b"\xff\xfe", "application/json", 400),
    ],
)
def test_bad_requests_get_a_4xx_and_change_nothing(
    server: Server, file_engine: Engine, content: bytes, content_type: str, status: int
) -> None:
    response = httpx.post(
        f"{server.base_url}/api/messages",
        content=content,
        headers={"Content-Type": content_type},
        timeout=10,
    )
    assert response.status_code == status
    with Session(file_engine) as s:
        assert s.exec(select(Outbox)).all() == []
    assert recognitions(file_engine) == []


def test_teams_is_off_without_an_app_id(file_engine: Engine, connector: FakeConnector) -> None:
    running = Server(file_engine, slack_api_url=None).start()
    try:
        response = send(running, activity("message_kudos_channel.json", connector))
        assert response.status_code == 404
        assert response.json()["error"] == "teams_disabled"
        assert recognitions(file_engine) == []
    finally:
        running.stop()


# -------------------------------------------------------------------- authentication


@pytest.fixture
def secured(file_engine: Engine, teams_sdk: str) -> Iterator[tuple[Server, FakeConnector]]:
    fake = FakeConnector(auth=True)
    with fake:
        fake.add_people()
        env = {
            "MICROSOFT_APP_ID": BOT_APP_ID,
            "MICROSOFT_APP_PASSWORD": BOT_APP_PASSWORD,
            "MICROSOFT_APP_TENANT_ID": TENANT_ID,
            "MICROSOFT_APP_TYPE": "SingleTenant",
            "MICROSOFT_OPENID_METADATA_URL": fake.openid_metadata_url,
            "MICROSOFT_LOGIN_URL": fake.login_url(TENANT_ID),
        }
        running = teams_server(file_engine, env=env).start()
        try:
            yield running, fake
        finally:
            running.stop()


def test_unauthenticated_and_forged_requests_get_401_and_change_nothing(
    secured: tuple[Server, FakeConnector], file_engine: Engine
) -> None:
    server, fake = secured
    body = activity("message_kudos_channel.json", fake)

    assert send(server, body).status_code == 401
    forged = fake.forged_token(audience=BOT_APP_ID, service_url=fake.service_url)
    assert send(server, body, token=forged).status_code == 401
    other_app = fake.inbound_token(audience="someone-else", service_url=fake.service_url)
    assert send(server, body, token=other_app).status_code == 401
    wrong_url = fake.inbound_token(audience=BOT_APP_ID, service_url="https://evil.example/")
    assert send(server, body, token=wrong_url).status_code == 401
    other_issuer = fake.inbound_token(audience=BOT_APP_ID, issuer="https://issuer.example.com")
    assert send(server, body, token=other_issuer).status_code == 401
    expired = fake.inbound_token(audience=BOT_APP_ID, expires_in=-3600)
    assert send(server, body, token=expired).status_code == 401
    assert send(server, body, token="not-a-jwt").status_code == 401

    assert recognitions(file_engine) == []
    with Session(file_engine) as s:
        assert s.exec(select(Outbox)).all() == []
    assert fake.calls("POST", "/v3/") == []


def test_a_signed_request_is_handled_and_the_bot_sends_bearer_tokens(
    secured: tuple[Server, FakeConnector], file_engine: Engine
) -> None:
    server, fake = secured
    body = activity("message_kudos_channel.json", fake)
    token = fake.inbound_token(audience=BOT_APP_ID, service_url=fake.service_url)

    assert send(server, body, token=token).status_code == 200

    assert len(recognitions(file_engine)) == 1
    thread = body["conversation"]["id"]
    eventually(lambda: len(public_kudos(fake, thread)) == 1)
    eventually(lambda: len(fake.calls("POST", "/v3/conversations")) >= 3)
    connector_calls = [c for c in fake.calls() if "/v3/" in c.path]
    assert connector_calls and fake.issued_tokens
    assert len(fake.issued_tokens) == 1  # one token serves every call until it expires
    for call in connector_calls:
        headers = {k.lower(): v for k, v in call.headers.items()}
        assert headers["authorization"].removeprefix("Bearer ") in fake.issued_tokens
        assert call.status < 400


# -------------------------------------------------------------------- one person, two apps


def test_kudos_in_slack_and_in_teams_to_the_same_person_sum_in_one_row(
    file_engine: Engine, connector: FakeConnector
) -> None:
    from handlers import leaderboard
    from tests.fakes.slack_api import FakeSlack
    from tests.harness import TOKEN

    with FakeSlack(token=TOKEN, team_id="T0001") as slack:
        slack.add_user("U0001", "alice", email="alice@contoso.example", tz="Europe/London")
        slack.add_user("U0MEGAN", "megan", email=MEGAN.email.upper(), tz="Europe/London")
        running = Server(
            file_engine,
            slack_api_url=slack.base_url,
            env={"PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED": "true"},
        ).start()
        try:
            answer = running.command("<@U0MEGAN|megan> for the launch checklist #collaboration")
            assert answer.status_code == 200
            body = activity("message_kudos_channel.json", connector)
            assert send(running, body).status_code == 200
            policy = running.runtime.policy
            sprint = policy.sprints.sprint_of(running.runtime.clock.now())
            assert sprint is not None
            with Session(file_engine) as s:
                rows = leaderboard.board(s, sprint).rows
                megans = s.exec(select(Member).where(col(Member.display_name).contains("egan")))
                [megan] = list(megans)
            assert megan.slack_user_id == "U0MEGAN" and megan.teams_aad_id == MEGAN.aad_id
            by_email = {(r.email or "").lower(): r.points for r in rows}
            assert by_email[MEGAN.email] == 2
            assert by_email[ALEX.email] == 1
            assert sum(1 for r in rows if (r.email or "").lower() == MEGAN.email) == 1
        finally:
            running.stop()


# -------------------------------------------------------------------- surveys


def test_a_teams_only_member_gets_the_survey_card_and_answers_it(
    file_engine: Engine, connector: FakeConnector
) -> None:
    from datetime import timedelta

    from handlers import surveys
    from storage.models import SurveyAnswer

    survey = surveys.Survey(
        id="pulse",
        title="Weekly pulse",
        questions=(
            surveys.Question("energy", "scale", "How energised do you feel?", ("Low", "High")),
            surveys.Question(
                "focus", "choice", "What got in the way?", options=("Meetings", "Tools")
            ),
            surveys.Question("comment", "text", "Anything else?", optional=True),
        ),
        schedule=surveys.Schedule(cron="0 0 * * *", timezone="UTC"),
        open_for=timedelta(days=2),
        anonymous=False,
        min_responses=1,
    )
    # The bot has met Adele (installed in her 1:1 chat); Megan it has never spoken to.
    first = teams_server(file_engine).start()
    try:
        assert send(first, activity("installation_update_add.json", connector)).status_code == 200
    finally:
        first.stop()
    with Session(file_engine) as s:
        for person in (ADELE, MEGAN):
            s.add(Member(teams_aad_id=person.aad_id, email=person.email, display_name=person.name))
        s.commit()
    running = Server(
        file_engine,
        slack_api_url=None,
        env={"PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED": "true"},
        surveys=(survey,),
    ).start()
    try:

        def survey_cards() -> list[Any]:
            return [s for s in connector.activities() if "Weekly pulse" in json.dumps(s.body)]

        eventually(lambda: len(survey_cards()) == 2, timeout=10)
        by_chat = {s.conversation_id: cards([s])[0] for s in survey_cards()}
        adele_chat = json.loads((TEAMS / "installation_update_add.json").read_text())[
            "conversation"
        ]["id"]
        assert adele_chat in by_chat  # the stored 1:1 chat
        card = by_chat[adele_chat]
        [submit] = card["actions"]
        assert submit["verb"] == "survey.answer"

        invoke = activity("invoke_adaptive_card_action.json", connector, id="sv-1")
        invoke["from"] = {"id": ADELE.user_id, "aadObjectId": ADELE.aad_id, "name": ADELE.name}
        invoke["conversation"] = {
            "conversationType": "personal",
            "id": adele_chat,
            "tenantId": TENANT_ID,
        }
        invoke["value"]["action"] = {
            "type": "Action.Execute",
            "verb": "survey.answer",
            "data": {**submit["data"], **submitted(card, {"q_energy": "4", "q_focus": "Tools"})},
        }
        answer = send(running, invoke).json()["value"]
        assert "answers are saved" in card_text(answer)
        fields = {b.get("id"): b for b in answer["body"]}
        assert fields["q_energy"]["value"] == "4" and fields["q_focus"]["value"] == "1"

        invoke["id"] = "sv-2"
        invoke["value"]["action"]["data"] |= {"q_energy": "9", "q_focus": "Nothing"}
        refused = send(running, invoke).json()["value"]
        assert "pick a number from 1 to 5" in card_text(refused)
        with Session(file_engine) as s:
            rows = {a.question_id: (a.score, a.choices) for a in s.exec(select(SurveyAnswer))}
        assert rows == {"energy": (4, []), "focus": (None, ["Tools"])}
    finally:
        running.stop()


def test_one_person_cannot_flood_the_bot_in_teams(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    from bot.chat.ratelimit import PerUserLimit

    server.runtime.limiter = PerUserLimit(per_minute=6, burst=1)
    first = activity("message_kudos_personal.json", connector, id="r1", text="help", entities=[])
    assert send(server, first).status_code == 200
    second = activity("message_kudos_personal.json", connector, id="r2")
    assert send(server, second).status_code == 200
    chat = first["conversation"]["id"]
    eventually(
        lambda: any(
            "faster than Plaudit" in str(s.body.get("text")) for s in connector.activities(chat)
        )
    )
    assert recognitions(file_engine) == []
    invoke = send(server, activity("invoke_adaptive_card_action.json", connector, id="r3"))
    assert "faster than Plaudit" in card_text(invoke.json()["value"])
    assert recognitions(file_engine) == []

"""The Agents SDK transport (`bot.teams.sdk.agents`) against the loopback Bot Connector:
inbound tokens checked with the keys its OpenID metadata names, turns with member look-ups,
proactive sends and new 1:1 chats signed with tokens from its token endpoint, the
Connector's errors as the seam's, and the local-emulator mode without any tokens."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from microsoft_agents.hosting.core import ClaimsIdentity

from bot.settings import Settings
from bot.teams.sdk import (
    ConnectorError,
    Lookup,
    Member,
    Refused,
    Transport,
    TurnFailed,
    Unreachable,
    agents_auth,
    transport,
)
from bot.teams.sdk.agents import AgentsTransport
from tests.fakes.bot_connector import (
    ALEX,
    BOT_APP_ID,
    BOT_APP_PASSWORD,
    BOT_ID,
    GROUP_CHAT_ID,
    KUDOS_CHANNEL_ID,
    MEGAN,
    TEAM_ID,
    TENANT_ID,
    Call,
    FakeConnector,
    personal_conversation_id,
    spec_check,
)

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads" / "teams"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CARD = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [{"type": "TextBlock", "text": "Kudos to **Megan Bowen**", "wrap": True}],
}


@pytest.fixture
def fake() -> Iterator[FakeConnector]:
    connector = FakeConnector(auth=True)
    with connector:
        connector.add_people()
        yield connector


@pytest.fixture
def open_fake() -> Iterator[FakeConnector]:
    connector = FakeConnector()
    with connector:
        connector.add_people()
        yield connector


def secured(fake: FakeConnector, **changes: str) -> AgentsTransport:
    env = {
        "MICROSOFT_APP_ID": BOT_APP_ID,
        "MICROSOFT_APP_PASSWORD": BOT_APP_PASSWORD,
        "MICROSOFT_APP_TENANT_ID": TENANT_ID,
        "MICROSOFT_APP_TYPE": "SingleTenant",
        "MICROSOFT_OPENID_METADATA_URL": fake.openid_metadata_url,
        "MICROSOFT_LOGIN_URL": fake.login_url(TENANT_ID),
        **changes,
    }
    return AgentsTransport(Settings.model_validate(env))


def unauthenticated() -> AgentsTransport:
    return AgentsTransport(Settings.model_validate({"PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED": True}))


def activity(name: str, fake: FakeConnector, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    data["serviceUrl"] = fake.service_url
    data.update(changes)
    return data


def bearer(token: str) -> str:
    return f"Bearer {token}"


def connector_calls(fake: FakeConnector) -> list[Call]:
    """The Connector calls, each checked against ConnectorAPI.json (when it is present)."""
    calls = fake.calls(path_contains="/v3/")
    for call in calls:
        assert not spec_check(call), spec_check(call)
    return calls


def signed_by_fake(fake: FakeConnector, calls: list[Call]) -> set[str]:
    tokens = {c.headers.get("authorization", "").removeprefix("Bearer ") for c in calls}
    assert tokens <= set(fake.issued_tokens), "a Connector call carried a token not issued"
    return tokens


# -- the seam -------------------------------------------------------------------------------


def test_the_settings_choose_this_transport_by_default(fake: FakeConnector) -> None:
    chosen: Transport = transport(Settings.model_validate({"MICROSOFT_APP_ID": BOT_APP_ID}))
    assert isinstance(chosen, AgentsTransport)
    assert chosen.name == "agents"


def test_parse_reads_activities_and_says_why_not(
    fake: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    carrier = secured(fake)
    assert carrier.parse(activity("message_kudos_channel.json", fake)) is None
    broken = activity("message_kudos_channel.json", fake)
    broken["conversation"] = {"isGroup": "perhaps"}
    reason = carrier.parse(broken)
    assert reason is not None and "conversation" in reason
    assert carrier.parse({"type": 7}) is not None
    # The SDK would log the refused input (people's words) at ERROR: `parse` says why.
    assert not [r for r in caplog.records if r.name.startswith("microsoft_agents")]


def test_the_reference_is_the_wire_form_without_activity_id(fake: FakeConnector) -> None:
    reference = secured(fake).reference(activity("message_kudos_channel.json", fake))
    assert reference == {
        "user": {
            "id": "29:1adele",
            "name": "Adele Vance",
            "aadObjectId": "a1b2c3d4-0000-4000-8000-00000000000c",
        },
        "bot": {"id": BOT_ID, "name": "Plaudit"},
        "conversation": {
            "isGroup": True,
            "conversationType": "channel",
            "id": f"{KUDOS_CHANNEL_ID};messageid=1717423512345",
            "tenantId": TENANT_ID,
        },
        "channelId": "msteams",
        "locale": "en-US",
        "serviceUrl": fake.service_url,
    }


def test_botbuilder_reads_the_reference(fake: FakeConnector) -> None:
    schema = pytest.importorskip("botbuilder.schema")
    reference = secured(fake).reference(activity("message_kudos_personal.json", fake))
    read = schema.ConversationReference().deserialize(reference)
    assert (read.bot.id, read.user.id, read.user.aad_object_id) == (
        BOT_ID,
        "29:1adele",
        "a1b2c3d4-0000-4000-8000-00000000000c",
    )
    assert read.conversation.id == reference["conversation"]["id"]
    assert (read.channel_id, read.service_url) == ("msteams", fake.service_url)


# -- inbound tokens -------------------------------------------------------------------------


def test_a_good_token_gives_its_claims(fake: FakeConnector) -> None:
    data = activity("message_kudos_channel.json", fake)
    identity = asyncio.run(secured(fake).authenticate(data, bearer(fake.inbound_token())))
    assert isinstance(identity, ClaimsIdentity)
    assert identity.get_claim_value("aud") == BOT_APP_ID
    assert identity.get_claim_value("serviceurl") == fake.service_url
    # The keys came from the address the configured metadata names.
    assert fake.calls("GET", "/openid/.well-known/openidconfiguration")
    assert fake.calls("GET", "/openid/keys")


def test_the_service_url_may_differ_by_a_trailing_slash(fake: FakeConnector) -> None:
    data = activity("message_kudos_channel.json", fake)
    token = fake.inbound_token(service_url=fake.service_url.rstrip("/"))
    assert asyncio.run(secured(fake).authenticate(data, bearer(token)))


def test_a_configured_issuer_is_accepted(fake: FakeConnector) -> None:
    carrier = secured(fake, MICROSOFT_TOKEN_ISSUER="https://issuer.example")
    data = activity("message_kudos_channel.json", fake)
    token = fake.inbound_token(issuer="https://issuer.example")
    assert asyncio.run(carrier.authenticate(data, bearer(token)))
    with pytest.raises(Refused):
        asyncio.run(secured(fake).authenticate(data, bearer(token)))


REFUSED: dict[str, Callable[[FakeConnector], str | None]] = {
    "no header": lambda fake: None,
    "another scheme": lambda fake: f"Basic {fake.inbound_token()}",
    "a bare token": lambda fake: fake.inbound_token(),
    "not a JWT": lambda fake: "Bearer not-a-token",
    "a forged key": lambda fake: bearer(fake.forged_token()),
    "another audience": lambda fake: bearer(fake.inbound_token(audience="someone-else")),
    "another issuer": lambda fake: bearer(fake.inbound_token(issuer="https://evil.example")),
    "another serviceUrl": lambda fake: bearer(
        fake.inbound_token(service_url="https://evil.example/amer/")
    ),
    "no serviceurl claim": lambda fake: bearer(fake.inbound_token(service_url="")),
    "expired": lambda fake: bearer(fake.inbound_token(expires_in=-3600)),
    "an unknown key": lambda fake: bearer(fake.inbound_token(kid="rotated-away")),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unacceptable_tokens_are_refused(
    case: str, fake: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    header = REFUSED[case](fake)
    data = activity("message_kudos_channel.json", fake)
    with caplog.at_level(logging.INFO), pytest.raises(Refused):
        asyncio.run(secured(fake).authenticate(data, header))
    refusals = [r for r in caplog.records if r.name == "plaudit.teams"]
    assert [r.levelno for r in refusals] == [logging.INFO]
    token = (header or "").removeprefix("Bearer ").removeprefix("Basic ")
    if token:
        assert token not in caplog.text


def test_an_unknown_key_sends_for_the_metadata_again(
    fake: FakeConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agents_auth, "METADATA_COOLDOWN", 0.0)
    carrier = secured(fake)
    data = activity("message_kudos_channel.json", fake)
    asyncio.run(carrier.authenticate(data, bearer(fake.inbound_token())))
    metadata = "/openid/.well-known/openidconfiguration"
    assert len(fake.calls("GET", metadata)) == 1
    asyncio.run(carrier.authenticate(data, bearer(fake.inbound_token())))
    assert len(fake.calls("GET", metadata)) == 1  # kept
    with pytest.raises(Refused):
        asyncio.run(carrier.authenticate(data, bearer(fake.inbound_token(kid="new-key"))))
    assert len(fake.calls("GET", metadata)) == 2


# -- turns ----------------------------------------------------------------------------------


def run_turn(
    carrier: AgentsTransport,
    fake: FakeConnector,
    data: dict[str, Any],
    logic: Callable[[Lookup], Awaitable[None]],
) -> None:
    async def go() -> None:
        identity = await carrier.authenticate(data, bearer(fake.inbound_token()))
        await carrier.run(identity, data, logic)

    asyncio.run(go())


def test_a_turn_looks_members_up_in_the_team(fake: FakeConnector) -> None:
    found: list[Member | None] = []

    async def logic(lookup: Lookup) -> None:
        found.append(await lookup.member(MEGAN.user_id))
        found.append(await lookup.member(ALEX.aad_id))
        found.append(await lookup.member("29:1nobody"))

    run_turn(secured(fake), fake, activity("message_kudos_channel.json", fake), logic)
    assert found[0] == Member(
        id=MEGAN.user_id,
        aad_object_id=MEGAN.aad_id,
        tenant_id=TENANT_ID,
        name="Megan Bowen",
        given_name="Megan",
        email=MEGAN.email,
        user_principal_name=MEGAN.email,
        user_role="user",
    )
    assert found[1] is not None and found[1].id == ALEX.user_id
    assert found[2] is None
    calls = connector_calls(fake)
    assert [c.path.split("/members/")[0] for c in calls] == [
        f"/amer/v3/conversations/{TEAM_ID}"
    ] * 3
    assert len(signed_by_fake(fake, calls)) == 1


def test_a_group_chat_turn_looks_members_up_in_the_chat(fake: FakeConnector) -> None:
    fake.set_members(GROUP_CHAT_ID, [MEGAN.user_id])
    found: list[Member | None] = []

    async def logic(lookup: Lookup) -> None:
        found.append(await lookup.member(MEGAN.user_id))
        found.append(await lookup.member(ALEX.user_id))  # not in this chat

    run_turn(secured(fake), fake, activity("message_kudos_groupchat.json", fake), logic)
    assert [m.id if m else None for m in found] == [MEGAN.user_id, None]
    assert all(GROUP_CHAT_ID in c.path for c in connector_calls(fake))


def test_member_look_up_errors(fake: FakeConnector) -> None:
    seen: list[object] = []

    async def logic(lookup: Lookup) -> None:
        fake.fail_next(403, path_contains="/members/")
        seen.append(await lookup.member(MEGAN.user_id))
        fake.fail_next(429, retry_after=3, path_contains="/members/")
        try:
            await lookup.member(MEGAN.user_id)
        except ConnectorError as exc:
            seen.append((exc.status, exc.retry_after))

    run_turn(secured(fake), fake, activity("message_kudos_channel.json", fake), logic)
    assert seen == [None, (429, 3.0)]


def test_a_failing_turn_is_logged_and_raised_and_nothing_is_sent(
    fake: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    async def logic(lookup: Lookup) -> None:
        raise RuntimeError("the database went away")

    data = activity("message_kudos_channel.json", fake)
    with pytest.raises(TurnFailed) as raised:
        run_turn(secured(fake), fake, data, logic)
    assert isinstance(raised.value.__cause__, RuntimeError)
    failures = [r for r in caplog.records if r.name == "plaudit.teams"]
    assert [r.levelno for r in failures] == [logging.ERROR]
    assert failures[0].exc_info is not None and data["id"] in failures[0].getMessage()
    assert fake.calls(path_contains="/v3/") == []  # the SDK tells the user nothing


# -- sending --------------------------------------------------------------------------------


def test_cards_and_texts_are_new_messages_signed_with_one_token(fake: FakeConnector) -> None:
    carrier = secured(fake)
    reference = carrier.reference(activity("message_kudos_channel.json", fake))
    card = {"attachments": [{"contentType": CARD_TYPE, "content": CARD}]}

    async def go() -> list[str | None]:
        return [
            await carrier.send(reference, card),
            await carrier.send(reference, {"text": "**Kudos** sent"}),
            await carrier.send(reference, {"text": "and again"}),
        ]

    ids = asyncio.run(go())
    sent = fake.activities()
    assert ids == [s.activity_id for s in sent] and all(ids)
    assert {s.kind for s in sent} == {"send"}
    assert {s.reply_to_id for s in sent} == {None}
    thread = f"{KUDOS_CHANNEL_ID};messageid=1717423512345"
    assert {s.conversation_id for s in sent} == {thread}
    first, second = sent[0].body, sent[1].body
    assert first["type"] == "message" and "replyToId" not in first
    assert first["attachments"] == [{"contentType": CARD_TYPE, "content": CARD}]
    assert "text" not in first and "textFormat" not in first
    assert (second["text"], second["textFormat"]) == ("**Kudos** sent", "markdown")
    assert second["from"]["id"] == BOT_ID and second["conversation"]["id"] == thread
    assert len(fake.issued_tokens) == 1
    assert signed_by_fake(fake, connector_calls(fake)) == set(fake.issued_tokens)


def test_a_reference_botbuilder_wrote_is_usable(fake: FakeConnector) -> None:
    conversation = personal_conversation_id("29:1adele")
    written_by_botbuilder = {
        "activityId": "1717424405101",
        "user": {
            "id": "29:1adele",
            "name": "Adele Vance",
            "aadObjectId": "a1b2c3d4-0000-4000-8000-00000000000c",
        },
        "bot": {"id": BOT_ID, "name": "Plaudit"},
        "conversation": {"conversationType": "personal", "id": conversation},
        "channelId": "msteams",
        "locale": "en-US",
        "serviceUrl": fake.service_url,
    }
    sent = asyncio.run(secured(fake).send(written_by_botbuilder, {"text": "Thanks!"}))
    [delivered] = fake.activities(conversation)
    assert delivered.activity_id == sent and delivered.reply_to_id is None
    assert "replyToId" not in delivered.body
    assert delivered.body["recipient"]["id"] == "29:1adele"


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"), [(429, 7, 7.0), (503, None, None), (404, None, None)]
)
def test_connector_errors_carry_status_and_retry_after(
    fake: FakeConnector,
    caplog: pytest.LogCaptureFixture,
    status: int,
    retry_after: float | None,
    expected: float | None,
) -> None:
    carrier = secured(fake)
    reference = carrier.reference(activity("message_kudos_channel.json", fake))
    fake.fail_next(status, retry_after=retry_after, method="POST")
    with pytest.raises(ConnectorError) as raised:
        asyncio.run(carrier.send(reference, {"text": "hello"}))
    assert (raised.value.status, raised.value.retry_after) == (status, expected)
    assert fake.activities() == []
    # The SDK's own ERROR record of the answer is dropped: Plaudit logs it itself.
    assert not [r for r in caplog.records if r.name.startswith("microsoft_agents")]


def test_an_unreachable_connector(fake: FakeConnector) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    carrier = secured(fake)
    reference = carrier.reference(activity("message_kudos_channel.json", fake))
    reference["serviceUrl"] = f"http://127.0.0.1:{port}/amer/"
    with pytest.raises(Unreachable):
        asyncio.run(carrier.send(reference, {"text": "hello"}))


def test_no_token_is_unreachable(fake: FakeConnector) -> None:
    carrier = secured(fake, MICROSOFT_APP_PASSWORD="not-the-secret")
    reference = carrier.reference(activity("message_kudos_channel.json", fake))
    with pytest.raises(Unreachable):
        asyncio.run(carrier.send(reference, {"text": "hello"}))
    assert [c.status for c in fake.calls("POST", "/oauth2/v2.0/token")] == [401]
    assert fake.calls(path_contains="/v3/") == []


def test_a_new_chat_is_opened_and_its_reference_sends(fake: FakeConnector) -> None:
    carrier = secured(fake)

    async def go() -> tuple[dict[str, Any], str | None]:
        chat = await carrier.open_chat(
            service_url=fake.service_url,
            bot={"id": BOT_ID, "name": "Plaudit"},
            user_id=MEGAN.user_id,
            aad_id=MEGAN.aad_id,
            tenant=TENANT_ID,
        )
        return chat, await carrier.send(chat, {"text": "Your kudos was approved"})

    chat, sent = asyncio.run(go())
    conversation = personal_conversation_id(MEGAN.user_id)
    assert chat == {
        "channelId": "msteams",
        "serviceUrl": fake.service_url,
        "bot": {"id": BOT_ID, "name": "Plaudit"},
        "user": {"id": MEGAN.user_id, "aadObjectId": MEGAN.aad_id},
        "conversation": {
            "id": conversation,
            "conversationType": "personal",
            "tenantId": TENANT_ID,
        },
    }
    [created] = [c for c in fake.calls("POST") if c.path.endswith("/v3/conversations")]
    assert created.body == {
        "isGroup": False,
        "bot": {"id": BOT_ID, "name": "Plaudit"},
        "members": [{"id": MEGAN.user_id}],
        "tenantId": TENANT_ID,
        "channelData": {"tenant": {"id": TENANT_ID}},
    }
    [delivered] = fake.activities(conversation)
    assert delivered.activity_id == sent and delivered.body["text"] == "Your kudos was approved"
    assert len(fake.issued_tokens) == 1
    signed_by_fake(fake, connector_calls(fake))


def test_a_chat_the_connector_refuses(fake: FakeConnector) -> None:
    with pytest.raises(ConnectorError) as raised:
        asyncio.run(
            secured(fake).open_chat(
                service_url=fake.service_url,
                bot={"id": BOT_ID},
                user_id="29:1stranger",
                aad_id="a1b2c3d4-0000-4000-8000-0000000000ff",
                tenant=TENANT_ID,
            )
        )
    assert raised.value.status == 403


# -- the local emulator ---------------------------------------------------------------------


def test_unauthenticated_mode_checks_and_signs_nothing(open_fake: FakeConnector) -> None:
    carrier = unauthenticated()
    data = activity("message_kudos_channel.json", open_fake)
    found: list[Member | None] = []

    async def logic(lookup: Lookup) -> None:
        found.append(await lookup.member(MEGAN.user_id))

    async def go() -> dict[str, Any]:
        identity = await carrier.authenticate(data, None)
        assert isinstance(identity, ClaimsIdentity) and identity.allow_anonymous
        await carrier.run(identity, data, logic)
        await carrier.send(carrier.reference(data), {"text": "hello"})
        return await carrier.open_chat(
            service_url=open_fake.service_url,
            bot={"id": BOT_ID, "name": "Plaudit"},
            user_id=MEGAN.user_id,
            aad_id=MEGAN.aad_id,
            tenant=TENANT_ID,
        )

    chat = asyncio.run(go())
    assert found[0] is not None and found[0].email == MEGAN.email
    assert chat["conversation"]["id"] == personal_conversation_id(MEGAN.user_id)
    calls = connector_calls(open_fake)
    assert len(calls) == 3
    assert not [c for c in calls if "authorization" in c.headers]
    assert open_fake.issued_tokens == [] and open_fake.calls(path_contains="/oauth2/") == []


# -- app types ----------------------------------------------------------------------------------


def test_a_multi_tenant_app_takes_tokens_from_the_bot_framework_tenant(
    fake: FakeConnector,
) -> None:
    carrier = secured(
        fake,
        MICROSOFT_APP_TYPE="MultiTenant",
        MICROSOFT_APP_TENANT_ID="",
        PLAUDIT_TEAMS_TENANTS=TENANT_ID,
        MICROSOFT_LOGIN_URL=fake.login_url("botframework.com"),
    )
    data = activity("message_kudos_channel.json", fake)
    token = fake.inbound_token(audience=BOT_APP_ID, service_url=fake.service_url)
    assert isinstance(asyncio.run(carrier.authenticate(data, bearer(token))), ClaimsIdentity)
    asyncio.run(carrier.send(carrier.reference(data), {"text": "hello"}))
    (asked,) = fake.calls("POST", "/oauth2/v2.0/token")
    assert asked.path.startswith("/botframework.com/")
    assert signed_by_fake(fake, connector_calls(fake)) == set(fake.issued_tokens)


def test_a_user_assigned_managed_identity_signs_with_no_secret() -> None:
    settings = Settings.model_validate(
        {
            "MICROSOFT_APP_ID": BOT_APP_ID,
            "MICROSOFT_APP_TENANT_ID": TENANT_ID,
            "MICROSOFT_APP_TYPE": "UserAssignedMSI",
        }
    )
    made = agents_auth.configuration(settings)
    assert made.AUTH_TYPE == "UserManagedIdentity"
    assert (made.CLIENT_ID, made.CLIENT_SECRET) == (BOT_APP_ID, None)
    client = agents_auth.ConnectorTokens(made)._create_client_application()
    assert type(client).__name__ == "ManagedIdentityClient"

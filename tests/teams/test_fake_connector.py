"""The fake Bot Framework Connector answers like the real one; ids in fakes/bot_connector.py."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import jwt
import pytest

from tests.fakes.bot_connector import (
    ADELE,
    BOT_ID,
    KUDOS_CHANNEL_ID,
    MEGAN,
    TENANT_ID,
    FakeConnector,
    personal_conversation_id,
    spec_check,
    submitted,
)


@pytest.fixture
def fake() -> Iterator[FakeConnector]:
    connector = FakeConnector()
    connector.add_people()
    with connector:
        yield connector


def conversation_url(fake: FakeConnector, conversation_id: str, *rest: str) -> str:
    return fake.service_url + "/".join(["v3/conversations", quote(conversation_id, safe=""), *rest])


def test_create_send_reply_update_delete(fake: FakeConnector) -> None:
    params = {
        "bot": {"id": BOT_ID},
        "members": [{"id": ADELE.aad_id}],
        "isGroup": False,
        "tenantId": TENANT_ID,
        "channelData": {"tenant": {"id": TENANT_ID}},
    }
    created = [httpx.post(f"{fake.service_url}v3/conversations", json=params) for _ in range(2)]
    assert [r.status_code for r in created] == [201, 201]
    conversation = created[0].json()["id"]
    assert conversation == created[1].json()["id"] == personal_conversation_id(ADELE.user_id)

    thread = f"{KUDOS_CHANNEL_ID};messageid=1717423512345"
    sent = httpx.post(
        conversation_url(fake, thread, "activities"), json={"type": "message", "text": "hi"}
    )
    first = sent.json()["id"]
    reply = httpx.post(
        conversation_url(fake, thread, "activities", first), json={"type": "message", "text": "re"}
    )
    updated = httpx.put(
        conversation_url(fake, thread, "activities", first), json={"type": "message", "text": "hi!"}
    )
    assert (sent.status_code, reply.status_code, updated.json()) == (201, 201, {"id": first})
    assert [s.kind for s in fake.activities(KUDOS_CHANNEL_ID)] == ["send", "reply", "update"]
    assert fake.activity(first) == {"type": "message", "text": "hi!", "id": first}
    missing = httpx.put(conversation_url(fake, thread, "activities", "1"), json={"type": "typing"})
    assert missing.status_code == 404
    assert httpx.delete(conversation_url(fake, thread, "activities", first)).status_code == 200
    assert fake.activity(first) is None
    assert fake.wait_for(6)[-1].method == "DELETE"


def test_member_lookup_by_either_id(fake: FakeConnector) -> None:
    by_29 = httpx.get(conversation_url(fake, KUDOS_CHANNEL_ID, "members", MEGAN.user_id))
    by_aad = httpx.get(conversation_url(fake, KUDOS_CHANNEL_ID, "members", MEGAN.aad_id))
    assert by_29.json() == by_aad.json()
    assert by_29.json()["aadObjectId"] == MEGAN.aad_id and by_29.json()["givenName"] == "Megan"
    unknown = httpx.get(conversation_url(fake, KUDOS_CHANNEL_ID, "members", "29:1nobody"))
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "MemberNotFoundInConversation"
    paged = httpx.get(conversation_url(fake, KUDOS_CHANNEL_ID, "pagedmembers"))
    assert len(paged.json()["members"]) == 3 and paged.json()["continuationToken"] is None


def test_injected_throttling_carries_retry_after(fake: FakeConnector) -> None:
    fake.fail_next(429, retry_after=2, path_contains="/activities")
    url = conversation_url(fake, KUDOS_CHANNEL_ID, "activities")
    throttled = httpx.post(url, json={"type": "message", "text": "hi"})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert httpx.post(url, json={"type": "message", "text": "hi"}).status_code == 201
    assert [c.status for c in fake.calls("POST")] == [429, 201]


def test_auth_tokens_out_and_in() -> None:
    with FakeConnector(auth=True, app_id="app-1", app_password="s3cret") as fake:
        url = conversation_url(fake, KUDOS_CHANNEL_ID, "activities")
        activity = {"type": "message", "text": "hi"}
        assert httpx.post(url, json=activity).status_code == 401
        form = {
            "grant_type": "client_credentials",
            "client_id": "app-1",
            "client_secret": "wrong",
            "scope": "https://api.botframework.com/.default",
        }
        token_url = fake.login_url("botframework.com") + "/oauth2/v2.0/token"
        refused = httpx.post(token_url, data=form)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
        issued = httpx.post(token_url, data={**form, "client_secret": "s3cret"}).json()
        assert issued["token_type"] == "Bearer" and fake.issued_tokens == [issued["access_token"]]
        bearer = {"Authorization": f"Bearer {issued['access_token']}"}
        assert httpx.post(url, json=activity, headers=bearer).status_code == 201
        assert [c.status for c in fake.calls(path_contains="/v3/")] == [401, 201]

        metadata = httpx.get(fake.openid_metadata_url).json()
        keys = jwt.PyJWKSet.from_dict(httpx.get(metadata["jwks_uri"]).json())
        token = fake.inbound_token(audience="app-1", service_url=fake.service_url)
        key = next(k for k in keys.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
        claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="app-1")
        assert claims["iss"] == metadata["issuer"] and claims["serviceurl"] == fake.service_url
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(fake.forged_token(), key.key, algorithms=["RS256"], audience="app-1")


def test_spec_check(fake: FakeConnector) -> None:
    httpx.post(
        conversation_url(fake, KUDOS_CHANNEL_ID, "activities"),
        json={"type": "message", "text": "hi", "from": {"id": BOT_ID}, "textFormat": "markdown"},
    )
    httpx.get(f"{fake.service_url}v3/conversations/x/nonsense")
    good, unknown = fake.calls()
    if spec_check(good) is None:
        pytest.skip("ConnectorAPI.json is not in ../shared/specs/botframework/")
    assert spec_check(good) == []
    assert spec_check(unknown) == [
        "GET /v3/conversations/x/nonsense: no path in ConnectorAPI.json matches"
    ]
    good.body["text_format"] = "markdown"
    problems = spec_check(good)
    assert problems is not None and len(problems) == 1
    assert problems[0].endswith("'text_format' is not a property of Activity")


def test_a_filled_card_comes_back_as_teams_sends_it() -> None:
    """A multi-select sends its chosen values joined with commas (values that hold a comma
    included: Teams does not quote them); a choice the card does not offer cannot be made."""
    card = {
        "type": "AdaptiveCard",
        "body": [
            {
                "type": "Container",
                "items": [
                    {
                        "type": "Input.ChoiceSet",
                        "id": "many",
                        "isMultiSelect": True,
                        "choices": [
                            {"title": "Meetings", "value": "Meetings, travel"},
                            {"title": "Tools", "value": "Tools"},
                        ],
                    }
                ],
            },
            {"type": "Input.ChoiceSet", "id": "one", "choices": [{"title": "A", "value": "a"}]},
            {
                "type": "Input.ChoiceSet",
                "id": "who",
                "isMultiSelect": True,
                "choices": [],
                "choices.data": {"type": "Data.Query", "dataset": "graph.microsoft.com/users"},
            },
            {"type": "Input.Text", "id": "note", "value": "as shown"},
        ],
    }
    assert submitted(card) == {"many": "", "one": "", "who": "", "note": "as shown"}
    filled = submitted(
        card, {"many": ["Tools", "Meetings"], "one": "A", "who": [MEGAN.aad_id, ADELE.aad_id]}
    )
    assert filled == {
        "many": "Tools,Meetings, travel",
        "one": "a",
        "who": f"{MEGAN.aad_id},{ADELE.aad_id}",
        "note": "as shown",
    }
    with pytest.raises(AssertionError, match="offers no"):
        submitted(card, {"many": ["Travel"]})
    with pytest.raises(AssertionError, match="takes one choice"):
        submitted(card, {"one": ["A", "A"]})

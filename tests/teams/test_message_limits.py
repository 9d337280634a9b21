"""No message dies of its length in Teams: the fake Bot Connector refuses an activity over
28 KB (413 MessageSizeTooBig) as Teams does, every template rendered with oversize data goes in
activities within that, long kudos and adverse-event reports arrive whole over real HTTP, and
a message Teams refuses as too big goes again as plain text."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

import compliance_rules
from bot.teams import answers, send
from bot.teams import render as teams
from compliance_rules import Outcome
from handlers import kudos
from handlers.events import KudosRequested, Person
from handlers.kudos import Recorded, Stopped
from handlers.messages import PLATFORMS, Template
from storage.models import Outbox
from tests.fakes.bot_connector import (
    ADELE,
    BOT_ID,
    KUDOS_CHANNEL_ID,
    TENANT_ID,
    FakeConnector,
)
from tests.slack.test_message_limits import ADVERSE, OVERSIZE, prose
from tests.slack.test_message_limits import assert_whole as assert_whole_words
from tests.teams.cards_schema import as_shown, card_problems, cards_in, load_validator
from tests.transcript import Chat
from tests.transcript.cast import someone
from tests.transcript.words import activity_text, card_text


@pytest.fixture(autouse=True)
def unhurried_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about how long texts are rendered, not how fast they are checked
    (the time budget has tests of its own): on a busy machine a 10,000-character text can
    use up the budget and be held for a person, the fail-safe outcome."""
    monkeypatch.setattr(
        compliance_rules, "check", functools.partial(compliance_rules.check, timeout=5.0)
    )


# Words that take six bytes a letter on the wire (JSON escapes them): 10,000 characters of
# them are well over Teams' 28 KB.
WORD = "отчёт{}-шаг&R<D>"


def assert_whole(original: str, seen: str) -> None:
    """Every word of `original` shows in `seen` (Teams markdown), in order, none cut or
    changed: people's words go escaped, and Teams shows them as typed."""
    assert_whole_words(original, as_shown(seen))


def on_the_wire(content: Mapping[str, Any]) -> int:
    return len(json.dumps(content))


# -- the fake is as strict as Teams ------------------------------------------------------------


@pytest.fixture
def fake(teams_sdk: str) -> Iterator[FakeConnector]:
    connector = FakeConnector()
    connector.add_people()
    with connector:
        yield connector


def test_the_fake_refuses_an_activity_over_28_kb(fake: FakeConnector) -> None:
    thread = quote(f"{KUDOS_CHANNEL_ID};messageid=1717423512345", safe="")
    url = f"{fake.service_url}v3/conversations/{thread}/activities"
    big = {"type": "message", "text": "x" * (28 * 1024)}
    refused = httpx.post(url, json=big)
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "MessageSizeTooBig"
    assert httpx.post(url, json={**big, "text": "x" * 27_000}).status_code == 201
    params = {
        "bot": {"id": BOT_ID},
        "members": [{"id": ADELE.aad_id}],
        "isGroup": False,
        "tenantId": TENANT_ID,
        "activity": big,
    }
    created = httpx.post(f"{fake.service_url}v3/conversations", json=params)
    assert created.status_code == 413  # the first message of a new chat is held to it too
    assert len(fake.activities()) == 1


# -- every template fits, whatever its data ----------------------------------------------------

TEAMS_TEMPLATES = sorted((t for t in Template if "teams" in PLATFORMS[t]), key=str)
LONG = prose(20_000, WORD)
TEAMS_OVERSIZE: dict[Template, dict[str, Any]] = {
    **OVERSIZE,
    Template.KUDOS_PUBLIC: {**OVERSIZE[Template.KUDOS_PUBLIC], "message": LONG},
    Template.KUDOS_RECEIVED: {**OVERSIZE[Template.KUDOS_RECEIVED], "message": LONG},
    Template.REVIEW_REQUEST: {**OVERSIZE[Template.REVIEW_REQUEST], "text": LONG},
    Template.PV_ALERT: {**OVERSIZE[Template.PV_ALERT], "text": LONG},
    Template.NOTICE: {"text": prose(30_000, WORD)},
    Template.ANSWER_CARD: {
        "card": answers.answer_card(Stopped(Outcome.BLOCK, (), prose(20_000, WORD), 7))
    },
}


def test_every_teams_template_has_an_oversize_example() -> None:
    assert set(TEAMS_TEMPLATES) <= set(TEAMS_OVERSIZE)


@pytest.fixture(scope="module")
def card_schema() -> jsonschema.protocols.Validator | None:
    return load_validator()


@pytest.mark.parametrize("template", TEAMS_TEMPLATES, ids=str)
def test_every_template_rendered_with_oversize_data_goes_in_activities_teams_takes(
    template: Template, card_schema: jsonschema.protocols.Validator | None
) -> None:
    rendered = teams.RENDERERS[template](TEAMS_OVERSIZE[template])
    messages = send.fitted(rendered)
    for content in messages:
        assert on_the_wire(content) <= send.BUDGET < send.MAX_ACTIVITY
        for card in cards_in(content):
            if card_schema is not None:
                assert card_problems(card, card_schema) == []
    shown = "\n".join(activity_text(m) for m in messages)
    words = {
        Template.KUDOS_PUBLIC: LONG,
        Template.REVIEW_REQUEST: LONG,
        Template.PV_ALERT: LONG,
        Template.NOTICE: TEAMS_OVERSIZE[Template.NOTICE]["text"],
    }
    if template in words:
        assert_whole(words[template], shown)


def test_a_20000_character_alert_goes_whole_in_several_cards_mentions_and_buttons_kept() -> None:
    alert = send.fitted(teams.RENDERERS[Template.PV_ALERT](TEAMS_OVERSIZE[Template.PV_ALERT]))
    assert len(alert) > 1
    cards = [m["attachments"][0]["content"] for m in alert]
    assert "PV case #12" in card_text(cards[0]) and "ae.symptom" in card_text(cards[-1])
    assert_whole(LONG, "\n".join(card_text(c) for c in cards))

    review = send.fitted(
        teams.RENDERERS[Template.REVIEW_REQUEST](TEAMS_OVERSIZE[Template.REVIEW_REQUEST])
    )
    *first, last = [m["attachments"][0]["content"] for m in review]
    assert first and all("actions" not in c for c in first)
    assert [a["title"] for a in last["actions"]] == ["Approve", "Reject"]
    assert last["body"][-1]["id"] == "reason"

    people = [{"name": f"Person {n}", "teams_id": f"aad-{n}"} for n in range(3)]
    public = {**TEAMS_OVERSIZE[Template.KUDOS_PUBLIC], "giver": people[0], "recipients": people}
    posts = [m["attachments"][0]["content"] for m in send.fitted(teams.kudos_public(public))]
    assert len(posts) > 1
    assert [e["text"] for e in posts[0]["msteams"]["entities"]][:1] == ["<at>Person 0</at>"]
    assert all("msteams" not in c for c in posts[1:])  # no mention outside its card


def test_a_survey_too_big_for_one_card_can_be_answered_from_every_part() -> None:
    rendered = teams.RENDERERS[Template.SURVEY_INVITE](TEAMS_OVERSIZE[Template.SURVEY_INVITE])
    parts = [m["attachments"][0]["content"] for m in send.fitted(rendered)]
    assert len(parts) > 1
    inputs = [i["id"] for c in parts for i in c["body"] if i["type"].startswith("Input.")]
    assert inputs == [f"q_q{n}" for n in range(60)]  # every question, in order
    assert all([a["title"] for a in c["actions"]] == ["Submit"] for c in parts)


def test_plain_text_keeps_every_word_within_the_limit() -> None:
    rendered = teams.RENDERERS[Template.PV_ALERT](TEAMS_OVERSIZE[Template.PV_ALERT])
    plain = send.as_text(rendered)
    assert len(plain) > 1 and all(on_the_wire(m) <= send.BUDGET for m in plain)
    assert all(set(m) == {"text"} for m in plain)
    assert_whole(LONG, "\n".join(m["text"] for m in plain))


# -- over real HTTP: long texts arrive whole, and a refused message goes as text -------------


@pytest.fixture
def chat(file_engine: Engine, teams_sdk: str) -> Iterator[Chat]:
    with Chat(file_engine) as running:
        running.teams.install("alice")  # the bot has met the tenant and both people
        running.teams.install("bob")
        running.settle()
        yield running


def give(chat: Chat, message: str, *, key: str) -> kudos.KudosResult:
    """A kudos from Alice to Bob in Teams, through the real use case (a message to the bot
    takes 4,000 characters; other ways in take more)."""
    alice, bob = someone("alice"), someone("bob")
    event = KudosRequested(
        key=key,
        giver=Person("teams", TENANT_ID, alice.aad_id, alice.name, email=alice.email),
        recipients=(Person("teams", TENANT_ID, bob.aad_id, bob.name, email=bob.email),),
        message=message,
        values=(),
        source="command",
    )
    return chat.give(event)


def rows(chat: Chat) -> list[tuple[str, str]]:
    """(template, status) of the Teams rows, the greetings of the installs aside."""
    with Session(chat.engine) as session:
        found = session.exec(select(Outbox).where(Outbox.platform == "teams"))
        return [(o.template, o.status) for o in found if not o.key.endswith(":welcome")]


def test_a_10000_character_kudos_reaches_the_channel_and_the_person_whole(chat: Chat) -> None:
    words = prose(10_000, WORD)
    assert isinstance(give(chat, words, key="long-kudos"), Recorded)
    posted = chat.teams.posted("kudos")
    assert len(posted) > 1  # too big for one activity: it goes on in the next
    assert all(said.raw.get("attachments") for said in posted)  # as cards, not the fallback
    assert_whole(words, "\n".join(posted))
    assert_whole(words, "\n".join(chat.teams.dm("bob")))
    assert {status for _, status in rows(chat)} == {"delivered"}


def test_a_10000_character_adverse_event_reaches_drug_safety_whole(chat: Chat) -> None:
    report = f"{ADVERSE} " + prose(10_000 - len(ADVERSE) - 1, WORD)
    result = give(chat, report, key="long-report")
    assert isinstance(result, Stopped) and result.outcome is Outcome.ROUTE_PV
    alert = "\n".join(chat.teams.posted("safety"))
    assert "PV case #1: possible adverse event reported by" in alert
    assert_whole(report, alert)
    assert chat.teams.posted("kudos") == []
    assert ("pv.alert", "delivered") in rows(chat)


def test_a_message_teams_refuses_as_too_big_goes_again_as_plain_text(chat: Chat) -> None:
    report = f"{ADVERSE} " + prose(4_000, WORD)
    chat.connector.fail_next(413, path_contains="/activities")
    give(chat, report, key="refused-report")
    alert = chat.teams.posted("safety")
    assert alert and all(not said.raw.get("attachments") for said in alert)
    assert_whole(report, "\n".join(alert))
    assert rows(chat) == [("pv.alert", "delivered")]


def test_when_teams_refuses_the_plain_text_too_the_alert_is_dead_and_said_loudly(
    chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    chat.connector.fail_next(413, times=2, path_contains="/activities")
    with caplog.at_level(logging.CRITICAL, logger="plaudit.outbox"):
        give(chat, f"{ADVERSE} " + prose(4_000, WORD), key="lost-report")
        chat.settle()
    assert chat.teams.posted("safety") == []
    assert rows(chat) == [("pv.alert", "dead")]
    assert any(
        r.levelno == logging.CRITICAL and "drug-safety" in r.getMessage() for r in caplog.records
    )

"""Teams speaks each person's language: the locale of their activity picks the language of
the answers, cards and dialogs they get, and is stored with their member, so what is sent to
them later is in it too; channel posts are in the organisation's. Over real HTTP, with the
fake Bot Connector as the serviceUrl.

The expected words come from the catalogues (`i18n._` in the language); each test also says
that the language has its own words for them, which holds once the catalogues are translated.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.teams.render import inert
from handlers import i18n
from handlers.refusals import NOT_YOURSELF
from storage.models import Member
from tests.fakes.bot_connector import (
    ADELE,
    MEGAN,
    FakeConnector,
    Sent,
    personal_conversation_id,
    spec_check,
)
from tests.harness import Server, eventually
from tests.teams.test_teams_http import activity, cards, send, teams_server

TRANSLATED = ["de-DE", "fr-FR", "es-ES", "it-IT", "ja-JP"]
# A language Plaudit does not speak: the organisation's (English) instead.
UNSPOKEN = "pt-BR"
LOCALES = [*TRANSLATED, UNSPOKEN]


@pytest.fixture
def connector(teams_sdk: str) -> Iterator[FakeConnector]:
    fake = FakeConnector()
    with fake:
        fake.add_people()
        yield fake


@pytest.fixture
def server(file_engine: Engine, teams_sdk: str) -> Iterator[Server]:
    running = teams_server(file_engine).start()
    yield running
    running.stop()


def said(locale: str, english: str, **params: object) -> str:
    """`english` as the catalogue of `locale`'s language has it."""
    with i18n.speaking(locale):
        return i18n._(english, **params)


def assert_translated(locale: str, expected: str, english: str) -> None:
    """The language has words of its own (or, for one Plaudit does not speak, English)."""
    if locale == UNSPOKEN:
        assert expected == english
    else:
        assert expected != english, f"{english!r} has no {locale} translation in the catalogue"


def blocks(card: dict[str, Any]) -> list[str]:
    """The markdown of every TextBlock of a card, in order."""
    found: list[str] = []
    for item in card.get("body") or card.get("items") or []:
        if item.get("type") == "TextBlock":
            found.append(str(item.get("text") or ""))
        found += blocks(item)
    return found


def in_chat(connector: FakeConnector, chat: str) -> list[dict[str, Any]]:
    return cards(connector.activities(chat))


def personal(connector: FakeConnector, locale: str, text: str, **changes: Any) -> dict[str, Any]:
    """Adele's message in her 1:1 chat with Plaudit, from a client in `locale`."""
    return activity("message_kudos_personal.json", connector, text=text, locale=locale, **changes)


# -------------------------------------------------------------------- the sender's language


def test_the_sender_s_locale_is_stored_with_their_member(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    assert send(server, personal(connector, "de-DE", "me", entities=[])).status_code == 200
    with Session(file_engine) as s:
        adele = s.exec(select(Member).where(Member.email == ADELE.email)).one()
        assert adele.locale == "de-DE"


def test_without_an_activity_locale_the_client_info_s_is_stored(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    body = personal(connector, "", "me", entities=[{"type": "clientInfo", "locale": "ja-JP"}])
    del body["locale"]
    assert send(server, body).status_code == 200
    with Session(file_engine) as s:
        adele = s.exec(select(Member).where(Member.email == ADELE.email)).one()
        assert adele.locale == "ja-JP"


@pytest.mark.parametrize("locale", LOCALES)
def test_a_refused_kudos_is_answered_in_the_giver_s_language(
    server: Server, connector: FakeConnector, locale: str
) -> None:
    mention = {
        "type": "mention",
        "text": f"<at>{ADELE.name}</at>",
        "mentioned": {"id": ADELE.user_id, "name": ADELE.name},
    }
    text = f"kudos <at>{ADELE.name}</at> for the site activation email #site-activation"
    body = personal(connector, locale, text, entities=[mention])
    assert send(server, body).status_code == 200

    expected = said(locale, NOT_YOURSELF)
    chat = body["conversation"]["id"]
    eventually(lambda: bool(in_chat(connector, chat)))
    [answer] = in_chat(connector, chat)
    assert any(inert(expected) in block for block in blocks(answer)), blocks(answer)
    assert_translated(locale, expected, NOT_YOURSELF)


@pytest.mark.parametrize("locale", LOCALES)
def test_a_refused_kudos_on_a_card_comes_back_in_the_giver_s_language(
    server: Server, connector: FakeConnector, locale: str
) -> None:
    body = activity("invoke_adaptive_card_action.json", connector, locale=locale)
    body["value"]["action"]["data"]["recipients"] = ADELE.aad_id  # herself
    response = send(server, body)
    assert response.status_code == 200

    form = response.json()["value"]
    expected = said(locale, NOT_YOURSELF)
    assert f"💡 {inert(expected)}" in blocks(form)
    assert blocks(form)[0] == inert(said(locale, "Give kudos"))
    assert [a["title"] for a in form["actions"]] == [said(locale, "Send kudos")]
    assert_translated(locale, expected, NOT_YOURSELF)


@pytest.mark.parametrize("locale", LOCALES)
def test_me_is_answered_in_the_sender_s_language(
    server: Server, connector: FakeConnector, locale: str
) -> None:
    body = personal(connector, locale, "me", entities=[])
    assert send(server, body).status_code == 200

    chat = body["conversation"]["id"]
    eventually(lambda: bool(in_chat(connector, chat)))
    [home] = in_chat(connector, chat)
    title = said(locale, "Your kudos")
    assert blocks(home)[0] == f"**{inert(title)}**"
    facts = [f["title"] for f in home["body"][1]["facts"]]
    assert facts[0] == said(locale, "Received this quarter")
    assert home["actions"][0]["title"] == said(locale, "Give kudos")
    assert_translated(locale, title, "Your kudos")


@pytest.mark.parametrize("locale", LOCALES)
def test_the_personal_welcome_is_in_the_installer_s_language(
    server: Server, connector: FakeConnector, locale: str
) -> None:
    body = activity("installation_update_add.json", connector, locale=locale)
    assert send(server, body).status_code == 200

    chat = body["conversation"]["id"]
    eventually(lambda: bool(in_chat(connector, chat)))
    [welcome] = in_chat(connector, chat)
    hello = said(locale, "Hi, I'm Plaudit.")
    assert blocks(welcome)[0] == f"👋 {inert(hello)}"
    assert_translated(locale, hello, "Hi, I'm Plaudit.")


@pytest.mark.parametrize("locale", LOCALES)
def test_the_message_extension_dialog_is_in_the_sender_s_language(
    server: Server, connector: FakeConnector, locale: str
) -> None:
    body = activity("invoke_adaptive_card_action.json", connector, locale=locale)
    body["name"] = "composeExtension/fetchTask"
    body["value"] = {"commandId": "giveKudos", "commandContext": "compose"}
    response = send(server, body)
    assert response.status_code == 200

    dialog = response.json()["task"]["value"]
    title = said(locale, "Give kudos")
    assert dialog["title"] == title
    labels = [i.get("label") for i in dialog["card"]["content"]["body"] if i.get("label")]
    assert said(locale, "What did they do?") in labels
    assert_translated(locale, title, "Give kudos")


# -------------------------------------------------------------------- someone else's language


def megan_says_hello(server: Server, connector: FakeConnector, locale: str) -> Sent:
    """Megan asks `me` in her 1:1 chat from a client in `locale`; the answer."""
    chat = personal_conversation_id(MEGAN.user_id)
    hello = personal(connector, locale, "me", entities=[], id="megan-hello")
    hello["conversation"] = {**hello["conversation"], "id": chat}
    hello["from"] = {"id": MEGAN.user_id, "name": MEGAN.name, "aadObjectId": MEGAN.aad_id}
    assert send(server, hello).status_code == 200
    eventually(lambda: len(connector.activities(chat)) == 1)
    return connector.activities(chat)[0]


def adele_thanks_megan_and_alex(
    server: Server, connector: FakeConnector, locale: str
) -> tuple[Sent, Sent, Sent]:
    """Adele, from a client in `locale`, thanks Megan and Alex in a channel: Megan's DM, the
    card posted in the channel, and Alex's DM."""
    given = activity("message_kudos_channel.json", connector, locale=locale)
    assert send(server, given).status_code == 200
    megans = personal_conversation_id(MEGAN.user_id)
    thread = given["conversation"]["id"]

    def alex() -> list[Sent]:
        return [s for s in connector.activities() if s.conversation_id not in (megans, thread)]

    eventually(lambda: len(connector.activities(megans)) == 2)
    eventually(lambda: len(connector.activities(thread)) == 1 and len(alex()) == 1)
    return connector.activities(megans)[1], connector.activities(thread)[0], alex()[0]


def head(sent: Sent) -> str:
    """The first line of the card an activity carries."""
    return blocks(cards([sent])[0])[0]


def test_a_private_message_is_in_its_addressee_s_language(
    server: Server, connector: FakeConnector
) -> None:
    megan_says_hello(server, connector, "de-DE")
    received, _public, _alex = adele_thanks_megan_and_alex(server, connector, "en-US")

    english = f"{ADELE.name} gave you kudos"
    expected = said("de-DE", "{giver} gave you kudos", giver=ADELE.name)
    assert head(received) == f"🎉 {inert(expected)}"
    # What the bot sent is what the Connector takes, whatever language it is in.
    problems = [spec_check(c, case_sensitive=False) for c in connector.calls()]
    assert [p for p in problems if p] == []
    assert_translated("de-DE", expected, english)


GERMAN = {
    "Your kudos": "Deine Kudos",
    "{giver} gave you kudos": "{giver} hat dir Kudos gegeben",
    "{giver} recognised {people}": "{giver} hat {people} gewürdigt",
    "React to this card to second it.": "Reagiere auf diese Karte, um zuzustimmen.",
}


@pytest.fixture
def german(monkeypatch: pytest.MonkeyPatch) -> None:
    """A German catalogue of a few sentences, for the server (in this process) to use."""
    catalogue = i18n.Catalogue(GERMAN, {}, lambda n: int(n != 1))
    monkeypatch.setitem(i18n._loaded, "de", catalogue)


@pytest.mark.usefixtures("german")
def test_each_person_reads_their_own_language_and_the_channel_the_organisation_s(
    server: Server, connector: FakeConnector
) -> None:
    home = megan_says_hello(server, connector, "de-DE")
    assert head(home) == "**Deine Kudos**" and home.body["locale"] == "de"

    # Adele speaks German too, but the channel reads the organisation's English.
    received, public, alex = adele_thanks_megan_and_alex(server, connector, "de-DE")
    assert head(received) == f"🎉 {ADELE.name} hat dir Kudos gegeben"
    assert head(alex) == f"🎉 {ADELE.name} gave you kudos"  # his locale is unknown
    assert head(public).endswith(" recognised <at>Megan Bowen</at>, <at>Alex Wilber</at>")
    assert "React to this card to second it." in blocks(cards([public])[0])
    # Each activity names the language of its words, not that of the chat's last writer.
    assert received.body["locale"] == "de-DE"
    assert alex.body["locale"] == public.body["locale"] == "en"

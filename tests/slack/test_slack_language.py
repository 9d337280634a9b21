"""Plaudit answers each Slack user in the language their Slack speaks (`users.info` with
`include_locale`): a refused `/kudos` and the App Home in German or Japanese, English for a
language it does not speak; private messages in their addressee's language.

The expected words come from the catalogues; each test also checks that they differ from the
English, so it holds only once the sentence is translated."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from bot.slack.markup import escape
from bot.slack.people import SlackPeople
from handlers import i18n
from handlers.refusals import NOT_YOURSELF
from tests.fakes.slack_api import FakeSlack, refusal
from tests.harness import TOKEN, Server, eventually, payload

PEOPLE = {
    "U0001": "en-GB",
    "U0002": "de-DE",
    "U0003": "ja-JP",
    "U0004": "pt-BR",
    "U0005": "fr-FR",
    "U0006": "es-ES",
    "U0007": "it-IT",
}
# Each language Plaudit speaks besides English, by a user whose Slack is set to it.
SPEAKERS = [(user, locale) for user, locale in PEOPLE.items() if user not in ("U0001", "U0004")]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, team_id="T0001")
    for user, locale in PEOPLE.items():
        fake.add_user(user, f"person{user[-1]}", email=f"{user.lower()}@example.com", locale=locale)
    with fake:
        yield fake


@pytest.fixture
def server(file_engine: Engine, slack: FakeSlack) -> Iterator[Server]:
    running = Server(file_engine, slack_api_url=slack.base_url).start()
    yield running
    running.stop()


def said(locale: str, english: str) -> str:
    """`english` as Plaudit says it to someone whose Slack speaks `locale`."""
    with i18n.speaking(locale):
        return i18n._(english)


def _home(server: Server, slack: FakeSlack, user: str) -> dict[str, Any]:
    """The Home tab `user` is shown on opening it."""
    before = len(slack.calls("views.publish"))
    envelope = payload("event_app_home_opened.json")
    envelope["event"] |= {"user": user, "tab": "home"}
    envelope["event_id"] = f"Ev{user}home"
    assert server.event(envelope).status_code == 200
    published = slack.wait_for("views.publish", before + 1)[-1]
    assert refusal("views.publish", published.args) is None
    assert published.args["user_id"] == user
    view = published.args["view"]
    return dict(json.loads(view) if isinstance(view, str) else view)


def _self_kudos(server: Server, user: str) -> str:
    answer = server.command(f"<@{user}|me> for the launch plan #collaboration", user_id=user)
    assert answer.status_code == 200
    return str(answer.json()["text"])


@pytest.mark.parametrize(("user", "locale"), SPEAKERS)
def test_a_refused_kudos_is_answered_in_the_givers_language(
    server: Server, user: str, locale: str
) -> None:
    expected = said(locale, NOT_YOURSELF)
    assert escape(expected) in _self_kudos(server, user)
    # The English giver, in the same workspace at the same time, is answered in English.
    assert escape(NOT_YOURSELF) in _self_kudos(server, "U0001")
    assert expected != NOT_YOURSELF, f"not translated for {locale} yet"


@pytest.mark.parametrize(("user", "locale"), [("U0002", "de-DE"), ("U0003", "ja-JP")])
def test_the_app_home_is_drawn_in_its_viewers_language(
    server: Server, slack: FakeSlack, user: str, locale: str
) -> None:
    view = _home(server, slack, user)
    header = view["blocks"][0]["text"]["text"]
    button = view["blocks"][2]["elements"][0]["text"]["text"]
    assert header == said(locale, "Your kudos")
    assert button == said(locale, "Give kudos")
    assert _home(server, slack, "U0001")["blocks"][0]["text"]["text"] == "Your kudos"
    assert header != "Your kudos", f"not translated for {locale} yet"


def test_a_language_plaudit_does_not_speak_falls_back_to_english(
    server: Server, slack: FakeSlack
) -> None:
    assert escape(NOT_YOURSELF) in _self_kudos(server, "U0004")
    view = _home(server, slack, "U0004")
    assert view["blocks"][0]["text"]["text"] == "Your kudos"
    assert "received and" in json.dumps(view)


def test_a_kudos_reaches_each_recipient_in_their_own_language(
    server: Server, slack: FakeSlack
) -> None:
    answer = server.command("<@U0002|x> for the launch plan #collaboration", user_id="U0001")
    assert answer.status_code == 200 and "Kudos recorded for" in answer.json()["text"]
    eventually(lambda: bool(slack.messages("U0002")))
    (dm,) = slack.messages("U0002")
    with i18n.speaking("de-DE"):
        expected = i18n._("{giver} gave you kudos", giver="<@U0001>")
    assert expected in dm["text"]
    assert expected != "<@U0001> gave you kudos", "not translated for de-DE yet"


# -- the fake's users.info ----------------------------------------------------------------


def _users_info(slack: FakeSlack, **args: Any) -> dict[str, Any]:
    async def ask() -> dict[str, Any]:
        client = AsyncWebClient(token=TOKEN, base_url=slack.base_url)
        found = (await client.users_info(**args)).data
        assert isinstance(found, dict)
        return found

    return asyncio.run(ask())


def test_users_info_gives_a_locale_only_when_asked_for_it(slack: FakeSlack) -> None:
    slack.add_user("U0009", "dora")  # Slack's default locale
    plain = _users_info(slack, user="U0002")
    assert plain["ok"] is True and "locale" not in plain["user"]
    assert "locale" not in _users_info(slack, user="U0002", include_locale=False)["user"]
    asked = _users_info(slack, user="U0002", include_locale=True)
    assert asked["ok"] is True and asked["user"]["locale"] == "de-DE"
    assert _users_info(slack, user="U0009", include_locale=True)["user"]["locale"] == "en-US"
    # Nothing else changed: the same user, and the same refusal of someone unknown.
    assert {k: v for k, v in asked["user"].items() if k != "locale"} == plain["user"]
    with pytest.raises(Exception, match="user_not_found"):
        _users_info(slack, user="U0404", include_locale=True)
    slack.set_locale("U0002", "fr-FR")
    assert _users_info(slack, user="U0002", include_locale=True)["user"]["locale"] == "fr-FR"


def test_people_are_looked_up_with_their_locale(slack: FakeSlack) -> None:
    async def ask() -> list[str | None]:
        people = SlackPeople(AsyncWebClient(token=TOKEN, base_url=slack.base_url))
        found = await people.many("T0001", ("U0002", "U0003", "U0404"))
        return [p.locale for p in found]

    assert asyncio.run(ask()) == ["de-DE", "ja-JP", None]
    assert {c.args.get("include_locale") for c in slack.calls("users.info")} == {"1"}

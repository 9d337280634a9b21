"""Cards as Teams people fill them in and read them: survey options with commas in them (Teams
joins a multi-select's values with commas), the kudos form on a client with no people picker,
an Action.Submit pressed in a channel, and people's words that would read as markdown."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.teams import answers as teams_answers
from bot.teams import forms
from bot.teams import render as teams
from handlers import surveys
from handlers.kudos import Refused
from handlers.messages import Template
from handlers.policy import KudosPolicy
from storage.models import Recognition, SurveyAnswer
from tests.chat.test_messages import EXAMPLES
from tests.fakes.bot_connector import BOT_ID, BOT_NAME, submitted
from tests.teams.cards_schema import as_shown, cards_in
from tests.transcript import Chat
from tests.transcript.cast import someone
from tests.transcript.teams import CHANNELS, TeamsSide, conversation

OPTIONS = ("Meetings, travel", "Tools", "1:1s, reviews, and more")
PULSE = surveys.Survey(
    id="pulse",
    title="Weekly pulse",
    questions=(
        surveys.Question("focus", "choice", "What got in the way?", options=OPTIONS, multi=True),
        surveys.Question("best", "choice", "Best part of the week?", options=OPTIONS),
    ),
    schedule=surveys.Schedule(cron="0 9 * * MON", timezone="UTC"),
    open_for=timedelta(days=2),
    anonymous=False,
    min_responses=1,
)
BLOCKED = "for the Oncozol email that calls it the best treatment #collaboration"


@pytest.fixture
def chat(file_engine: Engine, teams_sdk: str) -> Iterator[Chat]:
    with Chat(file_engine) as running:
        running.teams.install("alice")  # the bot has met the tenant
        yield running


def activity(chat: Chat, who: str, kind: str, where: str) -> dict[str, Any]:
    person = someone(who)
    conv, channel_data = conversation(where)
    return {
        "type": kind,
        "id": f"f:{uuid.uuid4()}",
        "timestamp": datetime.now(UTC).isoformat(),
        "channelId": "msteams",
        "serviceUrl": chat.connector.service_url,
        "from": {"id": person.teams_id, "name": person.name, "aadObjectId": person.aad_id},
        "conversation": conv,
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "channelData": channel_data,
        "entities": [{"type": "clientInfo", "locale": "en-US", "platform": "Android"}],
        "localTimezone": person.tz,
    }


def post(chat: Chat, body: dict[str, Any]) -> dict[str, Any]:
    chat.settle()
    response = httpx.post(f"{chat.server.base_url}/api/messages", json=body, timeout=15)
    assert response.status_code == 200, response.text
    return response.json() if response.content else {}


def execute(
    chat: Chat, who: str, where: str, action: dict[str, Any], inputs: dict[str, str]
) -> Any:
    """`who` presses `action` (an Action.Execute) with the card's inputs as Teams sends them;
    the card Teams shows in its place."""
    body = activity(chat, who, "invoke", where) | {
        "name": "adaptiveCard/action",
        "value": {
            "action": {
                "type": "Action.Execute",
                "verb": action["verb"],
                "data": {**action["data"], **inputs},
            },
            "trigger": "manual",
        },
    }
    answer = post(chat, body)
    assert answer["statusCode"] == 200
    return answer["value"]


def answers(engine: Engine) -> dict[str, list[str]]:
    with Session(engine) as s:
        return {a.question_id: a.choices for a in s.exec(select(SurveyAnswer))}


def chat_id(who: str) -> str:
    return TeamsSide.chat_of(who)


# -- survey options with commas --------------------------------------------------------------


def test_survey_options_with_commas_can_be_chosen(chat: Chat) -> None:
    chat.enrol("carol", on="teams")
    chat.open_survey(PULSE)
    [card] = cards_in(chat.teams.card_to("carol")[-1].raw)
    [action] = card["actions"]

    picked: dict[str, str | list[str]] = {"q_focus": [OPTIONS[0], OPTIONS[2]], "q_best": OPTIONS[2]}
    inputs = submitted(card, picked)
    assert "," in inputs["q_focus"]  # Teams joins a multi-select's values with commas
    answer = execute(chat, "carol", chat_id("carol"), action, inputs)

    assert "your answers are saved" in json.dumps(answer)
    assert answers(chat.engine) == {"focus": [OPTIONS[0], OPTIONS[2]], "best": [OPTIONS[2]]}
    redrawn = {b.get("id"): b for b in answer["body"]}
    assert submitted(answer)["q_focus"] == redrawn["q_focus"]["value"]
    shown = {c["value"]: c["title"] for c in redrawn["q_focus"]["choices"]}
    assert [shown[v] for v in redrawn["q_focus"]["value"].split(",")] == [OPTIONS[0], OPTIONS[2]]


def test_answers_from_survey_cards_sent_before_still_count(chat: Chat) -> None:
    """Cards already sent offer the options' words as values (and carry no `choices` key)."""
    chat.enrol("carol", on="teams")
    round_id = chat.open_survey(PULSE)
    before = {"verb": "survey.answer", "data": {"verb": "survey.answer", "round_id": round_id}}
    inputs = {"q_focus": f"{OPTIONS[2]},{OPTIONS[1]}", "q_best": OPTIONS[0]}

    answer = execute(chat, "carol", chat_id("carol"), before, inputs)

    assert "your answers are saved" in json.dumps(answer)
    assert answers(chat.engine) == {"focus": [OPTIONS[2], OPTIONS[1]], "best": [OPTIONS[0]]}


def test_choices_come_back_by_index_or_by_their_words() -> None:
    options = ["0", "1", "Yes, mostly", "No"]
    assert forms.chosen("1,2", options, by_index=True) == ("1", "Yes, mostly")
    assert forms.chosen("1", options, by_index=False) == ("1",)  # an old card: its words
    assert forms.chosen("Yes, mostly,No", options, by_index=False) == ("Yes, mostly", "No")
    assert forms.chosen("Maybe", options, by_index=False) == ("Maybe",)  # refused later
    assert forms.chosen("9", options, by_index=True) == ("9",)  # no such option: refused later
    assert forms.chosen("", options, by_index=True) == ()


# -- the kudos form where Teams shows no people picker ---------------------------------------


def test_people_typed_into_the_form_get_the_kudos_where_there_is_no_picker(chat: Chat) -> None:
    chat.enrol("bob", "carol", on="teams")
    chat.teams.command("alice", "kudos")
    [form] = cards_in(chat.teams.card_to("alice")[-1].raw)
    fields = {b.get("id"): b for b in form["body"]}
    # Mobile clients show the picker as an empty list: it cannot be required.
    assert fields["recipients"].get("isRequired") is not True
    assert fields["people"]["type"] == "Input.Text"

    typed = {"people": "bob@contoso.example; @Carol", "message": "for the launch checklist"}
    inputs = submitted(form, {**typed, "value": "#collaboration"})
    assert inputs["recipients"] == ""  # nothing picked: there was no picker to pick with
    answer = execute(chat, "alice", chat_id("alice"), form["actions"][0], inputs)

    assert "Kudos recorded for Bob, Carol" in json.dumps(answer)
    with Session(chat.engine) as s:
        [kudos] = s.exec(select(Recognition)).all()
    assert kudos.source == "modal"


def test_someone_typed_whom_plaudit_cannot_find_brings_the_form_back(chat: Chat) -> None:
    chat.teams.command("alice", "kudos")
    [form] = cards_in(chat.teams.card_to("alice")[-1].raw)
    typed = {"people": "nobody@contoso.example", "message": "for the launch checklist"}
    inputs = submitted(form, {**typed, "value": "#collaboration"})

    answer = execute(chat, "alice", chat_id("alice"), form["actions"][0], inputs)

    fields = {b.get("id"): b for b in answer["body"]}
    assert fields["people"]["value"] == "nobody@contoso.example"  # kept to correct
    assert "I can't find nobody@contoso.example" in as_shown(json.dumps(answer))
    with Session(chat.engine) as s:
        assert s.exec(select(Recognition)).all() == []


def test_typed_people_are_split_like_people_write_them() -> None:
    assert forms.typed_people("a@x.com, @Megan Bowen @Alex\nadele@x.com;;") == [
        "a@x.com",
        "Megan Bowen",
        "Alex",
        "adele@x.com",
    ]


# -- Action.Submit in a channel ------------------------------------------------------------


def test_a_card_submitted_in_a_channel_is_answered_in_the_givers_own_chat(chat: Chat) -> None:
    """Clients without Universal Actions send Action.Submit as a message in the thread: the
    findings and their buttons still go to the giver alone."""
    thread = f"{CHANNELS['kudos']};messageid=1717500000999"
    value = {"verb": "kudos.give", "recipients": someone("bob").aad_id, "message": BLOCKED}
    post(chat, activity(chat, "dave", "message", thread) | {"value": value})

    [findings] = chat.teams.card_to("dave")
    assert "not compliant" in findings
    assert findings.endswith("[Edit and resend] [Ask for review]")
    in_channel = "\n".join(chat.teams.posted("kudos"))
    assert "Oncozol" not in in_channel and "Edit and resend" not in in_channel
    # Dave never wrote to the bot: his 1:1 chat was opened through the connector for this.
    opened = chat.connector.calls("POST", "/v3/conversations")
    dave = someone("dave").teams_id
    assert any(m.get("id") == dave for c in opened for m in c.body.get("members") or [])


# -- people's words stay words ---------------------------------------------------------------

LINK = "[the deck](https://evil.example/login)"
SNEAKY = {"name": "[Bob](https://evil.example) **boss**", "teams_id": None, "slack_id": None}
MENTIONED = {"name": "<at>Rae</at> [x](https://evil.example)", "teams_id": "aad-9"}


def markup(markdown: str) -> list[str]:
    """The characters Teams markdown reads as markup (links, emphasis, HTML), escapes aside."""
    return re.findall(r"(?<!\\)(?:\\\\)*([\[\]*_<>])", markdown)


def ours(text_block: str) -> str:
    """A TextBlock without the markup Plaudit writes itself (bold, and `<at>` tags)."""
    return re.sub(r"(?<!\\)\*\*", "", re.sub(r"<at>[^<>]*</at>", "", text_block))


def blocks(card: dict[str, Any]) -> list[str]:
    return [str(b["text"]) for b in card["body"] if b.get("type") == "TextBlock"]


def test_links_and_markup_in_peoples_words_and_names_stay_words() -> None:
    data = {
        **EXAMPLES[Template.KUDOS_PUBLIC],
        "giver": SNEAKY,
        "recipients": [MENTIONED, SNEAKY],
        "message": f"for {LINK} and _this_ <b>now</b>",
    }
    [public] = cards_in(teams.kudos_public(data))
    [received] = cards_in(teams.kudos_received({**data, "source": "command"}))
    [review] = cards_in(teams.review_request({**EXAMPLES[Template.REVIEW_REQUEST], "text": LINK}))
    answer = teams_answers.answer_card(
        Refused("unknown_user", f"I can't find {LINK} in this workspace.")
    )
    notice = teams.RENDERERS[Template.NOTICE]({"text": f"Rejected: {LINK}"})["text"]
    for shown in [*blocks(public), *blocks(received), *blocks(review), *blocks(answer), notice]:
        assert markup(ours(shown)) == [], shown
    everything = as_shown(" ".join(blocks(public)))
    assert LINK in everything and "_this_ <b>now</b>" in everything
    assert str(SNEAKY["name"]) in everything  # shown as typed, emphasis marks and all
    [tag] = public["msteams"]["entities"]
    assert tag["mentioned"]["name"] == MENTIONED["name"]  # the entity keeps the name whole
    inner = tag["text"].removeprefix("<at>").removesuffix("</at>")
    assert "Rae" in inner and markup(inner) == [] and tag["text"] in blocks(public)[0]


def test_plaudits_own_formatting_stays() -> None:
    board = teams.RENDERERS[Template.LEADERBOARD_POST](EXAMPLES[Template.LEADERBOARD_POST])
    assert board["text"].startswith("**Standings, recognition sprint 2026Q4**")
    assert "1. Alice R&D: 7" in board["text"]
    help_card = teams_answers.help_card(KudosPolicy())
    assert "`@Plaudit kudos`" in json.dumps(help_card, ensure_ascii=False)


def test_a_kudos_with_a_link_is_posted_with_the_link_as_words(chat: Chat) -> None:
    chat.teams.say("alice", f"@Plaudit kudos @bob for {LINK} _today_ #collaboration")
    [post] = chat.teams.posted("kudos")
    [card] = cards_in(post.raw)
    assert all(markup(ours(shown)) == [] for shown in blocks(card))
    assert f"for {LINK} _today_" in as_shown(" ".join(blocks(card)))

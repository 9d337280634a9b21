"""No message dies of its length in Slack: the fake refuses what Slack refuses (a section's
3,000 characters, counted in UTF-16 units, a field's 2,000, a context line's 2,000 and its 10
elements, a header's 150, a button's or option's 75, an option value's 150, ids of 255, 50
blocks, 100 in a view, a view's title of 24, a text's 40,000, the words of all of a message's
blocks), every template rendered with oversize data passes, long kudos and adverse-event
reports arrive whole over real HTTP, and a message Slack refuses anyway goes again as plain
text."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine
from sqlmodel import Session, select

import compliance_rules
from bot.slack import blocks, markup, render, survey
from compliance_rules import Outcome
from handlers import kudos
from handlers.events import KudosRequested, Person
from handlers.kudos import Recorded, Stopped
from handlers.messages import PLATFORMS, Template
from handlers.policy import KudosPolicy
from storage.models import Outbox
from tests.chat.test_messages import EXAMPLES
from tests.fakes.slack_api import FakeSlack, block_problems, refusal
from tests.harness import TOKEN
from tests.transcript import Chat
from tests.transcript.cast import someone
from tests.transcript.words import message_text

ADVERSE = (
    "for staying calm when the caller said her mother was hospitalised with a severe rash "
    "after starting Larkspur"
)


@pytest.fixture(autouse=True)
def unhurried_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about how long texts are rendered, not how fast they are checked
    (the time budget has tests of its own): on a busy machine a 10,000-character text can
    use up the budget and be held for a person, the fail-safe outcome."""
    monkeypatch.setattr(
        compliance_rules, "check", functools.partial(compliance_rules.check, timeout=5.0)
    )


def prose(length: int, word: str = "step{}&R<D>", *, lines: int = 37) -> str:
    """`length` characters of numbered words (so each one can be found), with characters
    Slack escapes and a line break every `lines` words."""
    parts: list[str] = []
    size = index = 0
    while size < length:
        part = word.format(index) + ("\n" if index % lines == lines - 1 else " ")
        parts.append(part)
        size, index = size + len(part), index + 1
    return "".join(parts)[:length].strip()


def assert_whole(original: str, seen: str) -> None:
    """Every word of `original` is in `seen`, in order, none cut or changed."""
    words, shown = original.split(), iter(seen.split())
    missing = [w for w in words if not any(w == s for s in shown)]
    assert not missing, f"{len(missing)} of {len(words)} words missing, first {missing[:3]}"


def posted(content: Mapping[str, Any]) -> str:
    return "\n".join(message_text(post) for post in blocks.posts(dict(content)))


# -- the fake is as strict as Slack ----------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as running:
        yield running


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def button(text: str) -> dict[str, Any]:
    label = {"type": "plain_text", "text": text}
    return {"type": "actions", "elements": [{"type": "button", "action_id": "a", "text": label}]}


def fields(*texts: str) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": t} for t in texts]}


def menu(value: str, label: str = "x") -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": label}, "value": value}
    element = {"type": "static_select", "action_id": "v", "options": [option]}
    return {
        "type": "input",
        "block_id": "v",
        "label": {"type": "plain_text", "text": "Value"},
        "element": element,
    }


EMOJI = "\U0001f389"  # one character, two UTF-16 code units (a surrogate pair)
REFUSED = {
    "a section over 3,000 characters": ([section("x" * 3001)], "x", "invalid_blocks"),
    "a section of 1,501 emoji (3,002 UTF-16 units)": (
        [section(EMOJI * 1501)],
        "x",
        "invalid_blocks",
    ),
    "a context of 11 elements": (
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}],
        "x",
        "invalid_blocks",
    ),
    "11 section fields": ([fields(*["x"] * 11)], "x", "invalid_blocks"),
    "a section field over 2,000": ([fields("x" * 2001)], "x", "invalid_blocks"),
    "a block_id over 255": ([{**section("x"), "block_id": "b" * 256}], "x", "invalid_blocks"),
    "an action_id over 255": (
        [{"type": "actions", "elements": [{**button("x")["elements"][0], "action_id": "a" * 256}]}],
        "x",
        "invalid_blocks",
    ),
    "a context line over 2,000": ([context("x" * 2001)], "x", "invalid_blocks"),
    "a header over 150": ([header("x" * 151)], "x", "invalid_blocks"),
    "a button over 75": ([button("x" * 76)], "x", "invalid_blocks"),
    "an empty section": ([section("")], "x", "invalid_blocks"),
    "51 blocks": ([section("x")] * 51, "x", "invalid_blocks"),
    "a text over 40,000": (None, "x" * 40_001, "msg_too_long"),
    "blocks carrying 12,000 characters": ([section("x" * 3000)] * 4, "x", "msg_blocks_too_long"),
}
TAKEN = {
    "a section of 3,000": [section("x" * 3000)],
    "a context line of 2,000": [context("x" * 2000)],
    "a header of 150": [header("x" * 150)],
    "a button of 75": [button("x" * 75)],
    "50 blocks": [section("x")] * 50,
    "a section of 1,500 emoji": [section(EMOJI * 1500)],
    "10 section fields of 2,000": [fields(*["x" * 1000] * 10)],
}


@pytest.mark.parametrize("method", ["chat.postMessage", "chat.postEphemeral", "chat.update"])
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_fake_refuses_what_slack_refuses(fake: FakeSlack, method: str, case: str) -> None:
    shown, text, error = REFUSED[case]
    client = WebClient(token=TOKEN, base_url=fake.base_url)
    args = {"channel": "C0KUDOS", "user": "U0001", "ts": "1.1", "text": text}
    with pytest.raises(SlackApiError) as refused:
        client.api_call(method, json={**args, **({"blocks": shown} if shown else {})})
    assert refused.value.response.status_code == 200  # Slack's refusals are HTTP 200
    assert refused.value.response["error"] == error
    if error == "invalid_blocks":
        assert refused.value.response["response_metadata"]["messages"][0].startswith("[ERROR]")
    assert fake.messages("C0KUDOS") == []


@pytest.mark.parametrize("case", sorted(TAKEN))
def test_the_fake_takes_what_is_within_the_limits(fake: FakeSlack, case: str) -> None:
    client = WebClient(token=TOKEN, base_url=fake.base_url)
    client.chat_postMessage(channel="C0KUDOS", text="x" * 40_000, blocks=TAKEN[case])
    assert len(fake.messages("C0KUDOS")) == 1


def test_the_fake_refuses_views_past_their_limits(fake: FakeSlack) -> None:
    client = WebClient(token=TOKEN, base_url=fake.base_url)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Form"}}
    client.views_open(trigger_id="t", view={**view, "blocks": [section("x")] * 100})
    for bad in (
        [section("x")] * 101,
        [section("x" * 3001)],
        [menu("v" * 151)],
        [menu("v", "x" * 76)],
    ):
        with pytest.raises(SlackApiError) as refused:
            client.views_open(trigger_id="t", view={**view, "blocks": bad})
        assert refused.value.response["error"] == "invalid_arguments"
        assert "/view/blocks" in refused.value.response["response_metadata"]["messages"][0]
    client.views_open(trigger_id="t", view={**view, "blocks": [menu("v" * 150, "x" * 75)]})
    titled = {**view, "blocks": [section("x")]}
    for bad_view in (
        {**titled, "title": {"type": "plain_text", "text": "x" * 25}},
        {**titled, "submit": {"type": "plain_text", "text": "x" * 25}},
        {**titled, "callback_id": "c" * 256},
    ):
        with pytest.raises(SlackApiError) as refused:
            client.views_open(trigger_id="t", view=bad_view)
        assert "/view]" in refused.value.response["response_metadata"]["messages"][0]


# -- every template fits, whatever its data ----------------------------------------------------

PERSON = {"name": "Alice R&D", "email": None, "slack_id": "U0A", "teams_id": "aad-a"}
PEOPLE = [{**PERSON, "name": f"Colleague {n} <R&D>", "slack_id": f"U{n:04d}"} for n in range(60)]
BIG_BOARD = {
    "rows": [
        {"rank": n, "name": f"Person {n} & co", "slack_id": f"U{n:04d}", "points": 100 - n}
        for n in range(1, 51)
    ]
}
QUESTION_TYPES = [
    {"type": "scale", "labels": ["x" * 70] * 5},
    {"type": "enps"},
    {"type": "choice", "multi": True, "options": [f"{n} " + "o" * 72 for n in range(20)]},
    {"type": "text"},
]
MANY_QUESTIONS = [
    {"id": f"q{n}", "text": "How & why " + "w" * 280, **QUESTION_TYPES[n % 4]} for n in range(60)
]


def _results(data: Mapping[str, Any]) -> dict[str, Any]:
    question = {**data["questions"][0], "text": "q" * 300}
    comments = {"id": "c", "text": "Comments", "type": "text", "answers": 200, "distribution": {}}
    return {**data, "questions": [question] * 30 + [{**comments, "texts": ["c" * 500] * 200}]}


# The examples of tests/chat/test_messages.py, each made as big as its template allows or more.
OVERSIZE: dict[Template, dict[str, Any]] = {
    Template.KUDOS_PUBLIC: {
        **EXAMPLES[Template.KUDOS_PUBLIC],
        "recipients": PEOPLE,
        "message": prose(10_000),
        "values": [f"#value-{n}" for n in range(100)],
    },
    Template.KUDOS_RECEIVED: {**EXAMPLES[Template.KUDOS_RECEIVED], "message": prose(10_000)},
    Template.NOTICE: {"text": prose(60_000)},
    Template.REVIEW_REQUEST: {
        **EXAMPLES[Template.REVIEW_REQUEST],
        "text": prose(10_000),
        "rules": [f"promo.rule-{n}-" + "r" * 40 for n in range(80)],
    },
    Template.PV_ALERT: {**EXAMPLES[Template.PV_ALERT], "text": prose(200_000, lines=20)},
    Template.DIGEST_WEEKLY: {
        "week": "2026-W49",
        "lines": [f"Quiet report {n}: " + prose(2_900) for n in range(100)],
    },
    Template.MILESTONE_REACHED: {
        **EXAMPLES[Template.MILESTONE_REACHED],
        "title": "t" * 2_000,
        "people": PEOPLE,
    },
    Template.LEADERBOARD_POST: {
        **EXAMPLES[Template.LEADERBOARD_POST],
        "person": BIG_BOARD,
        "team": BIG_BOARD,
        "top": 50,
    },
    Template.SURVEY_INVITE: {
        **EXAMPLES[Template.SURVEY_INVITE],
        "title": "T" * 200,
        "intro": "&" * 1000,
        "questions": MANY_QUESTIONS,
    },
    Template.SURVEY_RESULTS: _results(EXAMPLES[Template.SURVEY_RESULTS]),
}
SLACK_TEMPLATES = sorted((t for t in Template if "slack" in PLATFORMS[t]), key=str)


def test_every_slack_template_has_an_oversize_example() -> None:
    assert set(SLACK_TEMPLATES) <= set(OVERSIZE)


@pytest.mark.parametrize("template", SLACK_TEMPLATES, ids=str)
def test_every_template_rendered_with_oversize_data_is_taken_by_slack(
    template: Template,
) -> None:
    rendered = render.RENDERERS[template](OVERSIZE[template])
    if isinstance(rendered, render.Upload):
        assert refusal("chat.postMessage", {"text": rendered.text}) is None
        return
    for post in blocks.posts(rendered):
        assert refusal("chat.postMessage", post) is None, template
        assert len(post["text"]) <= markup.SUMMARY_LIMIT


def test_long_kudos_and_reviews_keep_every_word() -> None:
    for template, key in ((Template.KUDOS_PUBLIC, "message"), (Template.REVIEW_REQUEST, "text")):
        rendered = render.RENDERERS[template](OVERSIZE[template])
        assert isinstance(rendered, dict)
        assert_whole(OVERSIZE[template][key], posted(rendered))
        assert len(rendered["text"]) <= markup.SUMMARY_LIMIT  # the notification is short
    public = render.RENDERERS[Template.KUDOS_PUBLIC](OVERSIZE[Template.KUDOS_PUBLIC])
    assert isinstance(public, dict) and public["text"].endswith("…")


def test_a_drug_safety_alert_is_never_shortened() -> None:
    text = OVERSIZE[Template.PV_ALERT]["text"]
    rendered = render.RENDERERS[Template.PV_ALERT](OVERSIZE[Template.PV_ALERT])
    assert isinstance(rendered, dict)
    several = blocks.posts(rendered)
    assert len(several) > 1 and all(len(p["blocks"]) <= blocks.MAX_BLOCKS for p in several)
    assert "shortened" not in posted(rendered)
    assert_whole(text, posted(rendered))
    assert "ae.symptom" in message_text(several[-1])


def test_a_message_past_50_blocks_keeps_its_head_and_says_how_much_was_left_out() -> None:
    data = {
        "week": "2026-W49",
        "lines": [prose(2_900, f"line{n}word{{}}", lines=10**9) for n in range(120)],
    }
    rendered = render.RENDERERS[Template.DIGEST_WEEKLY](data)
    assert isinstance(rendered, dict)
    shown = rendered["blocks"]
    assert len(shown) == blocks.MAX_BLOCKS
    assert message_text({"blocks": shown[-1:]}) == "(message shortened: 71 more lines)"
    assert_whole("\n".join(data["lines"][:49]), posted(rendered))


def test_long_mrkdwn_is_cut_at_words_never_inside_an_escape_a_mention_or_a_fence() -> None:
    text = " ".join(
        f"<@U{n:04d}> R&amp;D &lt;{n}&gt; <https://x.example/{n}|a link {n}>" for n in range(400)
    )
    pieces = markup.split(text, 100)
    assert all(len(p) <= 100 for p in pieces)
    for piece in pieces:
        assert piece.count("<") == piece.count(">"), piece  # no mention or link cut in two
        assert not re.search(r"&[#\w]*$|^[#\w]*;", piece.strip()), piece  # no escape cut
    assert "".join(pieces) == text
    code = "```" + "\n".join(f"line {n} &amp; more" for n in range(400)) + "```"
    fenced = markup.split(code, 300)
    assert all(p.startswith("```") and p.endswith("```") and len(p) <= 300 for p in fenced)
    assert "".join(p[3:-3] for p in fenced) == code[3:-3]
    quoted = markup.split("> " + "quoted words " * 1000)
    assert all(p.startswith("> ") for p in quoted)


def test_long_mrkdwn_and_labels_are_measured_and_cut_in_utf16_units_never_inside_a_character() -> (
    None
):
    text = " ".join(f"{EMOJI} R&amp;D {n} {EMOJI * 3}" for n in range(2_000))
    pieces = markup.split(text)
    assert len(pieces) > 1 and "".join(pieces) == text
    assert all(markup.units(p) <= markup.SECTION_LIMIT for p in pieces)
    assert all(refusal("chat.postMessage", {"blocks": [section(p)]}) is None for p in pieces)
    label = markup.cut(f"R&D {EMOJI * 80}", 75)
    assert markup.units(label) <= 75 and label.endswith(f"{EMOJI}…")
    assert markup.cut(EMOJI * 3, 5, mark="") == EMOJI * 2  # never half a surrogate pair
    assert markup.units(markup.shorten(EMOJI * 2_000)) <= markup.SUMMARY_LIMIT


def test_a_survey_with_more_questions_than_a_message_holds_says_which_are_left_out() -> None:
    data = OVERSIZE[Template.SURVEY_INVITE]
    for closed in (False, True):
        answers = {"q3": ["o" * 75] * 20, "q7": "<&>" * 660} if closed else {}
        content = survey.invite({**data, "answers": answers}, closed=closed)
        assert refusal("chat.update", content) is None
        shown = message_text(content)
        assert re.search(r"Question \d+ to 60 of 60 did not fit in this Slack message", shown)
        assert "1. How & why" in shown


def test_the_answers_slack_takes_in_the_http_response_fit_too() -> None:
    """Slack refuses an ack body with invalid blocks as it refuses a post; the fake never
    sees acks, so the answers go through the same check."""
    policy = KudosPolicy(values=tuple(f"#value-{n}-" + "v" * 60 for n in range(300)))
    board = {"rows": [{**BIG_BOARD["rows"][0], "rank": n} for n in range(2_000)]}
    stopped = Stopped(Outcome.BLOCK, (), "x" * 9_000, recognition_id=7)
    answers = [
        blocks.help_answer(policy),
        blocks.leaderboard_answer(board, "Leaderboard"),
        blocks.answer(Recorded(1, tuple(f"Colleague {n}" for n in range(2_000)), 4, ())),
        blocks.answer(stopped),
    ]
    for answer in answers:
        assert block_problems(answer["blocks"]) == []
        assert refusal("chat.postEphemeral", answer) is None
    assert "(message shortened:" in message_text(answers[1])
    assert message_text(answers[3]).endswith("[Edit and resend] [Ask for review]")


# -- over real HTTP: long texts arrive whole, and a refused message goes as text -------------


@pytest.fixture
def chat(file_engine: Engine) -> Iterator[Chat]:
    with Chat(file_engine) as running:
        yield running


def give(chat: Chat, message: str, *, key: str) -> kudos.KudosResult:
    """A kudos from Alice to Bob in Slack, through the real use case (the slash command
    takes 4,000 characters; other ways in take more)."""
    alice, bob = someone("alice"), someone("bob")
    event = KudosRequested(
        key=key,
        giver=Person("slack", "T0001", alice.slack_id, alice.name, email=alice.email),
        recipients=(Person("slack", "T0001", bob.slack_id, bob.name, email=bob.email),),
        message=message,
        values=(),
        source="command",
        channel_id="C0GENERAL",
    )
    return chat.give(event)


def rows(chat: Chat) -> list[tuple[str, str]]:
    """(template, status) of the Slack rows."""
    with Session(chat.engine) as session:
        found = session.exec(select(Outbox).where(Outbox.platform == "slack"))
        return [(o.template, o.status) for o in found]


def test_a_kudos_typed_past_a_sections_limit_reaches_the_channel_whole(chat: Chat) -> None:
    # 3,600 characters typed (Slack takes 4,000), more than a section once escaped.
    words = prose(3_500, "step{}") + " for the R&D <launch> & more"
    chat.slack.say("alice", f"/kudos @bob {words}")
    assert "Kudos recorded for Bob" in chat.slack.ephemeral("alice")[-1]
    assert_whole(words, "\n".join(chat.slack.posted("kudos")))
    assert_whole(words, "\n".join(chat.slack.dm("bob")))


def test_a_10000_character_kudos_reaches_the_channel_whole(chat: Chat) -> None:
    words = prose(10_000)
    assert isinstance(give(chat, words, key="long-kudos"), Recorded)
    assert_whole(words, "\n".join(chat.slack.posted("kudos")))
    assert_whole(words, "\n".join(chat.slack.dm("bob")))
    assert {status for _, status in rows(chat)} == {"delivered"}


def test_a_10000_character_adverse_event_reaches_drug_safety_whole(chat: Chat) -> None:
    report = f"{ADVERSE} " + prose(10_000 - len(ADVERSE) - 1)
    result = give(chat, report, key="long-report")
    assert isinstance(result, Stopped) and result.outcome is Outcome.ROUTE_PV
    alert = "\n".join(chat.slack.posted("safety"))
    assert "PV case #1: possible adverse event reported by" in alert
    assert_whole(report, alert)
    assert chat.slack.posted("kudos") == []
    assert ("pv.alert", "delivered") in rows(chat)


def test_a_message_slack_refuses_goes_again_as_plain_text(chat: Chat) -> None:
    report = f"{ADVERSE} " + prose(4_000)
    refused = {"ok": False, "error": "invalid_blocks"}
    chat.slack_api.fail_next("chat.postMessage", status=200, body=refused)
    give(chat, report, key="refused-report")
    [alert] = chat.slack.posted("safety")
    assert "blocks" not in alert.raw  # the same words, without the blocks
    assert_whole(report, alert)
    assert rows(chat) == [("pv.alert", "delivered")]


def test_when_slack_refuses_the_plain_text_too_the_alert_is_dead_and_said_loudly(
    chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    chat.slack_api.fail_next(
        "chat.postMessage", status=200, body={"ok": False, "error": "invalid_blocks"}
    )
    chat.slack_api.fail_next(
        "chat.postMessage", status=200, body={"ok": False, "error": "msg_too_long"}
    )
    with caplog.at_level(logging.CRITICAL, logger="plaudit.outbox"):
        give(chat, f"{ADVERSE} " + prose(4_000), key="lost-report")
        chat.settle()
    assert chat.slack.posted("safety") == []
    assert rows(chat) == [("pv.alert", "dead")]
    assert any(
        r.levelno == logging.CRITICAL and "drug-safety" in r.getMessage() for r in caplog.records
    )

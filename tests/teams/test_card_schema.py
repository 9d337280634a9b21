"""Every card Plaudit shows in Teams keeps to the Adaptive Cards 1.5 schema and to Teams' 28 KB
limit: each outbox template in its variants, each card the adapter answers with, and every
card that crosses the wire in a conversation that presses every verb."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import Engine

from bot.chat import texts
from bot.chat.ratelimit import too_fast
from bot.teams import answers, forms, send
from bot.teams import cards as teams_cards
from bot.teams import render as teams
from compliance_rules import Finding, Outcome
from handlers import surveys
from handlers.kudos import Duplicate, KudosResult, Recorded, Refused, Stopped
from handlers.messages import PLATFORMS, Template
from handlers.policy import KudosPolicy
from tests.chat.test_messages import EXAMPLES, PV, QUESTIONS
from tests.slack.test_message_limits import prose
from tests.teams import cards_schema
from tests.teams.cards_schema import (
    CARD_SCHEMA_ABSENT,
    card_problems,
    cards_in,
    load_validator,
    require_validator,
)
from tests.transcript import Chat, Said
from tests.transcript.words import card_text

# Six bytes a letter on the wire, and characters Teams markdown would read as markup.
WORD = "отчёт{}-шаг&R<D>*_[x](y)"
LONGEST = prose(teams_cards.MAX_TEXT, WORD)  # the most a card or a message takes
MALLORY_NAME = "[Mallory](https://evil.example) *M*"
MALLORY = {"name": MALLORY_NAME, "teams_id": "aad-m", "slack_id": None}
POLICY = KudosPolicy(values=("#collaboration", "#patient-enrollment"), require_value=True)


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    return require_validator()


def _finding(outcome: Outcome) -> Finding:
    return Finding("promo.superlative", "promo", outcome, 0, 4, "Superlative claim", "an option")


RESULTS: dict[str, KudosResult] = {
    "recorded": Recorded(1, ("Bob", MALLORY_NAME), 3, (_finding(Outcome.WARN),)),
    "refused": Refused("unknown_user", f"I can't find {MALLORY_NAME} in this workspace."),
    "blocked": Stopped(Outcome.BLOCK, (_finding(Outcome.BLOCK),), "Not posted: " + LONGEST, 7),
    "held": Stopped(Outcome.HOLD, (_finding(Outcome.HOLD),), "Held for review.", 8),
    "drug safety": Stopped(Outcome.ROUTE_PV, (), "Sent to drug safety.", 9),
    "duplicate": Duplicate(),
}
CHOICE = {
    "id": "focus",
    "type": "choice",
    "text": "What got in the way?",
    "options": ["Meetings, travel", "Tools", "Other"],
    "multi": True,
}
ENPS = {"id": "enps", "type": "enps", "text": "Would you recommend us?"}
SURVEY = {
    **EXAMPLES[Template.SURVEY_INVITE],
    "questions": [*QUESTIONS, CHOICE, ENPS],
    "answers": {"q1": 4, "q2": LONGEST, "focus": ["Meetings, travel", "Other"], "enps": 9},
}


def template_variants() -> Iterator[tuple[str, Template, dict[str, Any]]]:
    """Every template that reaches Teams, with each shape of payload its renderer knows."""
    for template in (t for t in Template if "teams" in PLATFORMS[t]):
        yield template.value, template, EXAMPLES[template]
    public = EXAMPLES[Template.KUDOS_PUBLIC]
    yield "public, reaction", Template.KUDOS_PUBLIC, {**public, "source": "reaction"}
    yield (
        "public, longest",
        Template.KUDOS_PUBLIC,
        {**public, "giver": MALLORY, "recipients": [MALLORY, {"name": "Bob"}], "message": LONGEST},
    )
    received = EXAMPLES[Template.KUDOS_RECEIVED]
    yield "received, longest", Template.KUDOS_RECEIVED, {**received, "message": LONGEST}
    review = EXAMPLES[Template.REVIEW_REQUEST]
    yield "review, longest", Template.REVIEW_REQUEST, {**review, "text": LONGEST}
    yield "pv, longest", Template.PV_ALERT, {**PV, "text": LONGEST}
    for name, result in RESULTS.items():
        yield f"answer, {name}", Template.ANSWER_CARD, {"card": answers.answer_card(result)}
    yield "survey, answered", Template.SURVEY_INVITE, SURVEY
    yield "survey, reminder", Template.SURVEY_INVITE, {**SURVEY, "reminder": 1, "answers": {}}


def adapter_answers() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every card the adapter answers a message or a button with."""
    yield "form", forms.kudos_form(POLICY)
    yield (
        "form in a message extension's dialog",
        forms.kudos_form(
            POLICY,
            recipients=("c0ffee00-0000-4000-8000-000000000002",),
            link="https://teams.microsoft.com/l/message/19%3Aabc%40thread.tacv2/1700000000000",
            private=True,
            dialog=True,
        ),
    )
    yield (
        "form, refused",
        forms.kudos_form(
            POLICY,
            recipients=("aad-1", "aad-2"),
            typed="bob@example.com, @Carol",
            message=LONGEST,
            value="#collaboration",
            error=f"Please keep it shorter. {LONGEST[:300]}",
        ),
    )
    for name, result in RESULTS.items():
        yield f"answer, {name}", answers.answer_card(result)
    yield "out of date", teams.decided_card(teams_cards.OUT_OF_DATE)
    yield "too fast", teams.decided_card(too_fast(12.5) + " It went to drug safety.")
    yield "decided", teams.decided_card(f"Review #3 rejected: {LONGEST} by {MALLORY_NAME}.")
    again = teams.review_request({**EXAMPLES[Template.REVIEW_REQUEST], "text": LONGEST})
    yield "review, again", teams.noted(again["attachments"][0]["content"], "Give a reason.")
    yield "survey, saved", teams.survey_card(SURVEY, note="✅ Thank you: your answers are saved.")
    yield "survey, closed", teams.survey_card(SURVEY, note="This round closed.", closed=True)
    yield "help", answers.help_card(POLICY, head="I didn't catch that.")
    yield "welcome", answers.help_card(POLICY, head="👋 Hi, I'm Plaudit.")
    yield "me", teams.text_card(texts.me(3, 2, 4, 5))
    board = {"rows": [{"rank": n, "name": f"{MALLORY_NAME} {n}", "points": 9} for n in range(9)]}
    yield "board", teams.text_card(texts.board(board, title="Leaderboard"))


@pytest.mark.parametrize(("name", "template", "data"), list(template_variants()), ids=str)
def test_every_template_variant_renders_valid_cards_teams_takes(
    validator: jsonschema.protocols.Validator, name: str, template: Template, data: dict[str, Any]
) -> None:
    rendered = teams.RENDERERS[template](data)
    for content in send.fitted(rendered):  # what the sender sends, split to fit
        for card in cards_in(content):
            assert card_problems(card, validator) == [], name


@pytest.mark.parametrize(("name", "card"), list(adapter_answers()), ids=str)
def test_every_card_the_adapter_answers_with_is_valid_and_fits(
    validator: jsonschema.protocols.Validator, name: str, card: dict[str, Any]
) -> None:
    # An invoke's answer is one card, not split: it must fit as it is.
    assert card_problems(card, validator) == [], name


def test_the_schema_check_catches_what_teams_would_not_show(
    validator: jsonschema.protocols.Validator,
) -> None:
    """The check is not a formality: a stray property, a bad picker, a mention with no text
    and an oversize card are each caught."""
    form = forms.kudos_form(POLICY)
    assert card_problems(form, validator) == []
    stray = {**form, "body": [{**form["body"][0], "colour": "red"}, *form["body"][1:]]}
    assert card_problems(stray, validator)
    picker = {**form["body"][1], "choices.data": {"type": "Data.Query", "dataset": "everyone"}}
    assert card_problems({**form, "body": [picker]}, validator)
    mention = {"type": "mention", "text": "<at>Nobody</at>", "mentioned": {"id": "x", "name": "N"}}
    assert card_problems({**form, "msteams": {"entities": [mention]}}, validator)
    big = teams.decided_card("x" * 29_000)
    assert any("over Teams'" in p for p in card_problems(big, validator))


def test_without_the_schema_the_checks_skip_saying_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cards_schema, "CARD_SCHEMA", tmp_path / "adaptive-card-1.5.json")
    assert load_validator() is None
    with pytest.raises(pytest.skip.Exception, match="ships separately"):
        require_validator()


# -- a conversation that presses every verb, every card on the wire checked ------------------

HELD = "for the great idea to show Cardivex in pregnancy at the booth #collaboration"
BLOCKED = "for the Oncozol email that calls it the best treatment #collaboration"
PULSE = surveys.Survey(
    id="pulse",
    title="Weekly pulse",
    questions=(
        surveys.Question("energy", "scale", "How energised do you feel?", ("Low", "High")),
        surveys.Question(
            "focus",
            "choice",
            "What got in the way?",
            options=("Meetings, travel", "Tools"),
            multi=True,
        ),
    ),
    schedule=surveys.Schedule(cron="0 9 * * MON", timezone="UTC"),
    open_for=timedelta(days=2),
    anonymous=False,
    min_responses=1,
)


class Presser:
    """Presses buttons as `TeamsSide.click` does, noting the verb of each press."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.verbs: set[str] = set()
        self.answers: list[Said] = []

    def press(self, who: str, title: str, inputs: dict[str, Any] | None = None) -> Said:
        for said in reversed(self.chat.teams.seen(who)):
            for card in cards_in(said.raw):
                for action in card.get("actions") or []:
                    if action.get("title") == title:
                        self.verbs.add(str(action["verb"]))
        answer = self.chat.teams.click(who, title, inputs)
        self.answers.append(answer)
        return answer


def test_every_card_of_a_conversation_is_valid(file_engine: Engine) -> None:
    validator = load_validator()
    with Chat(file_engine) as chat:
        presser = Presser(chat)
        for who in ("alice", "rae", "carol"):
            chat.teams.install(who)
        for words in ("help", "what is this", "me", "leaderboard", "kudos"):
            chat.teams.command("alice", words)
        presser.press("alice", "Give kudos")  # on `me`'s card: the kudos form comes back
        presser.press("alice", "Send kudos", {"recipients": ["bob"], "message": "ty"})
        presser.press("alice", "Send kudos", {"recipients": ["bob"], "message": BLOCKED})
        presser.press("alice", "Edit and resend")
        presser.press("alice", "Ask for review")
        chat.teams.command("alice", "kudos")
        good = {"recipients": ["dave"], "message": "for the site activation checklist"}
        presser.press("alice", "Send kudos", good)
        presser.press("alice", "Take back")  # on the answer: the kudos is taken back
        chat.teams.say("alice", f"@Plaudit kudos @carol {HELD}", where="channel")
        presser.press("rae", "Reject")  # no reason: the card comes back asking for one
        presser.press("rae", "Reject", {"reason": "Off-label"})
        presser.press("rae", "Approve")
        round_id = chat.open_survey(PULSE)
        presser.press("carol", "Submit", {"q_energy": "4", "q_focus": "1"})
        chat.close_survey(round_id)
        presser.press("carol", "Submit", {"q_energy": "5"})
        chat.settle()
        sent = [card for s in chat.connector.activities() for card in cards_in(s.body)]
        answered = [card for said in presser.answers for card in cards_in(said.raw)]

    assert presser.verbs == set(teams_cards.VERBS)  # each verb's answer was checked
    assert len(sent) >= 10 and len(answered) == 12
    if validator is None:
        pytest.skip(reason=CARD_SCHEMA_ABSENT)
    for card in sent + answered:
        assert card_problems(card, validator) == [], card_text(card)[:500]

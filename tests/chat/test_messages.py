"""Every outbox template has a payload, a list of platforms, and a renderer on each of them;
Teams renders from neutral texts, never from Slack's markup; checks happen when a row is
written, not when it is delivered."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema
import pytest
from slack_sdk.models.blocks import Block

from bot.chat import texts
from bot.safety import email, webhook
from bot.slack import render as slack
from bot.teams import answers as teams_answers
from bot.teams import render as teams
from handlers.kudos import Recorded, Refused
from handlers.messages import DRUG_SAFETY, PLATFORMS, BadMessage, Template, check, message
from tests.teams.cards_schema import card_problems, cards_in, require_validator

ALICE = {"name": "Alice R&D", "email": "alice@example.com", "slack_id": "U0A", "teams_id": None}
BOB = {"name": "Bob <Brand>", "email": None, "slack_id": None, "teams_id": "aad-bob"}
BOARD = {
    "rows": [
        {
            "rank": 1,
            "name": "Alice R&D",
            "slack_id": "U0A",
            "points": 7,
            "recognition_points": 5,
            "milestone_points": 2,
        },
        {"rank": 2, "name": "Bob", "slack_id": None, "points": 3},
    ]
}
PV = {
    "case_id": 12,
    "source": "kudos",
    "recognition_id": 40,
    "reporter": "Alice <alice@example.com>",
    "reporter_slack_id": "U0A",
    "aware_at": "2026-12-01T10:00:00+00:00",
    "text": "thanks Bob; my patient had a rash after Cardivex & fainted",
    "rules": ["ae.symptom"],
}
QUESTIONS = [
    {"id": "q1", "type": "scale", "text": "How supported do you feel?", "labels": ["Low", "High"]},
    {"id": "q2", "type": "text", "text": "Anything else?"},
]

# One example payload for every template, as the use cases write them.
EXAMPLES: dict[Template, dict[str, Any]] = {
    Template.KUDOS_PUBLIC: {
        "recognition_id": 1,
        "giver": ALICE,
        "recipients": [BOB],
        "message": "thanks for the R&D <launch> checklist",
        "values": ["#collaboration"],
        "source": "command",
    },
    Template.KUDOS_RECEIVED: {
        "recognition_id": 1,
        "giver": ALICE,
        "recipients": [BOB],
        "message": "thanks",
        "source": "command",
    },
    Template.NOTICE: {"text": "Your kudos was not approved: <!channel> mentions R&D"},
    Template.ANSWER_CARD: {"card": teams.decided_card("Done.")},
    Template.REVIEW_REQUEST: {
        "review_id": 3,
        "recognition_id": 40,
        "text": "best in class",
        "rules": ["promo.superlative"],
        "requested_by": "member:1",
    },
    Template.PV_ALERT: PV,
    Template.PV_CASE: {**PV, "url": "https://safety.example.com/cases", "to": "pv@example.com"},
    Template.DIGEST_WEEKLY: {"week": "2026-W49", "lines": ["Kudos received: 4.", "R&D <rocks>"]},
    Template.MILESTONE_REACHED: {
        "title": "Spring launch",
        "points": 10,
        "team": None,
        "people": [ALICE, BOB],
        "sprint": "2026Q4",
    },
    Template.LEADERBOARD_POST: {
        "sprint": "2026Q4",
        "final": False,
        "person": BOARD,
        "team": {"rows": []},
        "top": 10,
    },
    Template.SURVEY_INVITE: {
        "round_id": 5,
        "survey_id": "pulse",
        "number": 2,
        "title": "Pulse",
        "intro": "Two questions",
        "questions": QUESTIONS,
        "anonymous": True,
        "closes_at": "2026-12-08T10:00:00+00:00",
        "reminder": 0,
        "answers": {},
    },
    Template.SURVEY_RESULTS: {
        "round_id": 5,
        "survey_id": "pulse",
        "title": "Pulse",
        "number": 2,
        "opened_at": "2026-12-01T10:00:00+00:00",
        "closes_at": "2026-12-08T10:00:00+00:00",
        "closed": True,
        "anonymous": False,
        "min_responses": 3,
        "invited": 10,
        "respondents": 6,
        "hidden": False,
        "questions": [
            {
                "id": "q1",
                "text": "How supported do you feel?",
                "type": "scale",
                "answers": 6,
                "distribution": {"1": 0, "2": 1, "3": 1, "4": 2, "5": 2},
                "mean": 3.83,
            }
        ],
        "participation": 0.6,
    },
}

REGISTRIES: dict[str, Mapping[Template, Callable[[Mapping[str, Any]], Any]]] = {
    "slack": slack.RENDERERS,
    "teams": teams.RENDERERS,
    "webhook": webhook.RENDERERS,
    "email": email.RENDERERS,
}


def test_every_template_has_an_example_and_a_destination() -> None:
    assert set(EXAMPLES) == set(Template)
    for template in Template:
        assert PLATFORMS[template] <= set(REGISTRIES), template
        check(template, next(iter(PLATFORMS[template])), EXAMPLES[template])


@pytest.mark.parametrize("platform", sorted(REGISTRIES))
def test_each_platform_renders_exactly_the_templates_that_reach_it(platform: str) -> None:
    wanted = {t for t in Template if platform in PLATFORMS[t]}
    assert set(REGISTRIES[platform]) == wanted


@pytest.mark.parametrize(
    ("platform", "template"),
    [(p, t) for t in Template for p in sorted(PLATFORMS[t])],
    ids=lambda v: str(v),
)
def test_every_template_renders_on_every_platform_it_reaches(
    platform: str, template: Template
) -> None:
    rendered = REGISTRIES[platform][template](EXAMPLES[template])
    assert rendered


def test_drug_safety_templates_are_the_ones_storage_counts_as_such() -> None:
    """`storage.outbox.undelivered_safety_count` counts dead rows by the `pv.` prefix."""
    assert {t for t in Template if t.value.startswith("pv.")} == set(DRUG_SAFETY)


def test_a_registry_missing_a_template_is_caught() -> None:
    """The registry check above fails when a renderer is missing."""
    partial = {t: f for t, f in teams.RENDERERS.items() if t is not Template.PV_ALERT}
    wanted = {t for t in Template if "teams" in PLATFORMS[t]}
    assert set(partial) != wanted


def test_message_is_checked_when_it_is_written() -> None:
    made = message(
        Template.NOTICE, {"text": "hi"}, key="k", platform="slack", channel="U1", kind="dm"
    )
    assert made.template == "notice"
    with pytest.raises(BadMessage, match=r"unknown template 'kudos\.pubic'"):
        check("kudos.pubic", "slack", {})
    with pytest.raises(BadMessage, match=r"cannot be delivered on 'slack'"):
        check(Template.PV_CASE, "slack", EXAMPLES[Template.PV_CASE])
    with pytest.raises(BadMessage, match="lacks message, recipients"):
        check(Template.KUDOS_PUBLIC, "teams", {"recognition_id": 1, "giver": ALICE, "source": "x"})


def test_an_unknown_template_is_refused_at_delivery_without_retries() -> None:
    with pytest.raises(BadMessage, match="Slack cannot render"):
        slack.render("kudos.pubic", {})
    with pytest.raises(BadMessage, match="Teams cannot render"):
        teams.message("pv.case", EXAMPLES[Template.PV_CASE])


def _teams_strings(rendered: Any) -> list[str]:
    if isinstance(rendered, str):
        return [rendered]
    if isinstance(rendered, Mapping):
        return [s for v in rendered.values() for s in _teams_strings(v)]
    if isinstance(rendered, list):
        return [s for v in rendered for s in _teams_strings(v)]
    return []


@pytest.mark.parametrize("template", [t for t in Template if "teams" in PLATFORMS[t]])
def test_teams_never_shows_slack_markup(template: Template) -> None:
    shown = " ".join(_teams_strings(teams.RENDERERS[template](EXAMPLES[template])))
    for slack_only in ("<@U", "&amp;", "&lt;", ":tada:", ":trophy:", ":rotating_light:"):
        assert slack_only not in shown, (template, slack_only, shown)


def test_teams_drug_safety_alert_carries_the_reported_words() -> None:
    shown = " ".join(_teams_strings(teams.RENDERERS[Template.PV_ALERT](PV)))
    assert "my patient had a rash after Cardivex & fainted" in shown
    assert "PV case #12" in shown
    assert "ae.symptom" in shown
    assert shown.count("alice@example.com") == 1  # the reporter, named once


def test_slack_drug_safety_alert_mentions_the_reporter_with_their_address() -> None:
    alert = slack.RENDERERS[Template.PV_ALERT](PV)
    assert isinstance(alert, dict)
    assert "reported by <@U0A> (Alice &lt;alice@example.com&gt;) via kudos" in alert["text"]


def test_slack_escapes_peoples_words_once() -> None:
    notice = slack.RENDERERS[Template.NOTICE](EXAMPLES[Template.NOTICE])
    assert isinstance(notice, dict)
    assert notice["text"] == "Your kudos was not approved: &lt;!channel&gt; mentions R&amp;D"
    digest = slack.RENDERERS[Template.DIGEST_WEEKLY](EXAMPLES[Template.DIGEST_WEEKLY])
    assert isinstance(digest, dict)
    assert "R&amp;D &lt;rocks&gt;" in digest["text"]
    assert "&amp;amp;" not in json.dumps(digest)


def test_boards_name_people_by_mention_on_slack_and_by_name_on_teams() -> None:
    board = texts.board(BOARD, title="Leaderboard, sprint 2026Q4")
    from bot.slack import blocks

    assert "1. <@U0A>: 7 (5 kudos + 2 milestone)" in blocks.mrkdwn(board.blocks[0])
    assert "1. Alice R&D: 7" in teams.markdown(board)


@pytest.mark.parametrize("template", [t for t in Template if "slack" in PLATFORMS[t]])
def test_slack_blocks_pass_slack_sdks_own_block_kit_models(template: Template) -> None:
    rendered = slack.RENDERERS[template](EXAMPLES[template])
    if isinstance(rendered, slack.Upload):
        assert rendered.text and rendered.filename.endswith(".png")
        return
    assert rendered["text"]
    for raw in rendered.get("blocks") or []:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()  # raises on a block Slack would refuse


@pytest.fixture(scope="module")
def card_validator() -> jsonschema.protocols.Validator:
    return require_validator()


@pytest.mark.parametrize("template", [t for t in Template if "teams" in PLATFORMS[t]])
def test_teams_cards_follow_the_adaptive_cards_schema(
    card_validator: jsonschema.protocols.Validator, template: Template
) -> None:
    # `msteams` (mention entities) and a people picker's `choices.data` are Teams' own
    # extensions, documented by Teams outside the schema: checked for their documented shape.
    for content in cards_in(teams.RENDERERS[template](EXAMPLES[template])):
        assert card_problems(content, card_validator) == [], template


def test_answers_read_the_same_on_both_platforms() -> None:
    from bot.slack import blocks

    recorded = Recorded(recognition_id=1, recipients=("Bob",), allowance_left=4, warnings=())
    refused = Refused("self", "Kudos are for colleagues: you can't give them to yourself.")
    for result in (recorded, refused):
        neutral = texts.kudos_answer(result).plain()
        slack_text = blocks.answer(result)["text"]
        card = teams_answers.answer_card(result)
        assert neutral.split(" ", 1)[1] in slack_text
        assert neutral.split(" ", 1)[1] in json.dumps(card, ensure_ascii=False)

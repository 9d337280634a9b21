"""Every message Plaudit sends, as a typed template: its name, its payload, where it may go.

An outbox row stores a template and a JSON payload; a platform renders it when it is
delivered. Templates are an enum, so a misspelt name fails the type check, and `message()`
checks a payload's required keys and the destination when the row is written, inside the
transaction that caused it, never at delivery. Each platform keeps a registry of renderers
keyed by `Template`; a test proves every template that can reach a platform has one there.
"""

# No `from __future__ import annotations`: TypedDict reads `Required[...]` from evaluated
# annotations only, and `check()` relies on `__required_keys__`.
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Required, TypedDict, TypeVar

from storage import queries


class Template(StrEnum):
    KUDOS_PUBLIC = "kudos.public"  # the public post of a recognition
    KUDOS_RECEIVED = "kudos.received"  # a recipient's private message
    NOTICE = "notice"  # one private sentence (a review's outcome, a refusal)
    ANSWER_CARD = "answer.card"  # Teams: a card already drawn for its conversation
    REVIEW_REQUEST = "review.request"  # a held kudos, to the reviewers
    PV_ALERT = "pv.alert"  # a possible adverse event, to the drug-safety channel
    PV_CASE = "pv.case"  # the same case, to the drug-safety system or mailbox
    DIGEST_WEEKLY = "digest.weekly"  # a manager's weekly digest
    MILESTONE_REACHED = "milestone.reached"  # a campaign milestone awarded
    LEADERBOARD_POST = "leaderboard.post"  # the sprint board, mid-sprint or final
    SURVEY_INVITE = "survey.invite"  # a pulse survey round (also its reminders)
    SURVEY_RESULTS = "survey.results"  # a closed round's results


class PersonRef(TypedDict, total=False):
    """How a person appears in a payload: a name, and the ids a renderer may mention."""

    name: Required[str]
    email: str | None
    slack_id: str | None
    teams_id: str | None


class KudosPost(TypedDict, total=False):
    recognition_id: Required[int]
    giver: Required[PersonRef]
    recipients: Required[list[PersonRef]]
    message: Required[str]
    values: list[str]
    source: Required[str]  # command | modal | cli | reaction | card ...
    permalink: str | None
    emoji: str | None
    private: bool  # only the recipients see it: their DM says so


class Notice(TypedDict):
    text: str  # plain words; each platform escapes them its own way


class AnswerCard(TypedDict):
    card: dict[str, Any]


class ReviewRequest(TypedDict, total=False):
    review_id: Required[int]
    recognition_id: Required[int]
    text: Required[str]
    rules: Required[list[str]]
    requested_by: str


class PvReport(TypedDict, total=False):
    case_id: Required[int]
    source: Required[str]
    recognition_id: int | None
    reporter: Required[str]
    reporter_slack_id: str | None
    aware_at: Required[str]
    # The case's text is not queued (it is sealed in the case); the dispatcher adds it,
    # opened, to the notification it is about to send.
    text: str
    rules: Required[list[str]]
    url: str  # pv.case by webhook
    to: str  # pv.case by email


class WeeklyDigest(TypedDict, total=False):
    lines: Required[list[str]]
    week: str


class MilestoneReached(TypedDict, total=False):
    title: Required[str]
    points: Required[int]
    team: str | None
    people: list[PersonRef]
    sprint: Required[str]
    detail: dict[str, Any]  # what reached it (the rule's figures), for the record


class LeaderboardPost(TypedDict, total=False):
    sprint: Required[str]
    final: Required[bool]
    person: Required[dict[str, Any]]  # handlers.leaderboard.Board.as_json()
    team: dict[str, Any]
    top: int


class SurveyInvite(TypedDict, total=False):
    round_id: Required[int]
    survey_id: Required[str]
    number: Required[int]
    title: Required[str]
    intro: str
    questions: Required[list[dict[str, Any]]]
    anonymous: Required[bool]
    closes_at: Required[str]
    reminder: int
    answers: dict[str, Any]


class SurveyResults(TypedDict, total=False):
    """`handlers.surveys.Results.as_json()`."""

    round_id: Required[int]
    survey_id: Required[str]
    title: Required[str]
    number: Required[int]
    invited: Required[int]
    respondents: Required[int]
    hidden: Required[bool]
    questions: list[dict[str, Any]]


PAYLOADS: Mapping[Template, type] = {
    Template.KUDOS_PUBLIC: KudosPost,
    Template.KUDOS_RECEIVED: KudosPost,
    Template.NOTICE: Notice,
    Template.ANSWER_CARD: AnswerCard,
    Template.REVIEW_REQUEST: ReviewRequest,
    Template.PV_ALERT: PvReport,
    Template.PV_CASE: PvReport,
    Template.DIGEST_WEEKLY: WeeklyDigest,
    Template.MILESTONE_REACHED: MilestoneReached,
    Template.LEADERBOARD_POST: LeaderboardPost,
    Template.SURVEY_INVITE: SurveyInvite,
    Template.SURVEY_RESULTS: SurveyResults,
}

DRUG_SAFETY = frozenset({Template.PV_ALERT, Template.PV_CASE})
"""Messages to drug safety: never dropped quietly, kept when a person's data is erased.
Their names start with `pv.`, which is how storage counts the ones that gave up."""

CHAT = frozenset({"slack", "teams"})
SAFETY = frozenset({"webhook", "email"})

PLATFORMS: Mapping[Template, frozenset[str]] = {
    **{template: CHAT for template in Template},
    Template.ANSWER_CARD: frozenset({"teams"}),
    Template.PV_CASE: SAFETY,
}
"""Where each template may be delivered; every platform named here renders it."""


R = TypeVar("R")


class BadMessage(ValueError):
    """An outbox message that no platform could deliver: a programming error, raised when
    the row is written so the change that caused it fails with it."""


def check(template: str, platform: str, data: Mapping[str, Any]) -> Template:
    """The template of a message bound for `platform`, after checking it can go there and
    its payload has every key that template requires."""
    try:
        known = Template(template)
    except ValueError:
        raise BadMessage(f"unknown template {template!r}") from None
    if platform not in PLATFORMS[known]:
        raise BadMessage(f"{known.value} cannot be delivered on {platform!r}")
    required: frozenset[str] = getattr(PAYLOADS[known], "__required_keys__", frozenset())
    missing = sorted(required - set(data))
    if missing:
        raise BadMessage(f"{known.value} payload lacks {', '.join(missing)}")
    return known


def renderer(registry: Mapping[Template, R], template: str, platform: str) -> R:
    """The renderer of `template` in a platform's registry; `BadMessage` when it has none
    (the dispatcher marks such a row dead at once: no retry will render it)."""
    try:
        return registry[Template(template)]
    except (ValueError, KeyError):
        raise BadMessage(f"{platform} cannot render {template!r}") from None


def message(
    template: Template,
    data: Mapping[str, Any],
    *,
    key: str,
    platform: str,
    channel: str,
    kind: str,
    workspace: str | None = None,
    user: str | None = None,
) -> queries.Message:
    """An outbox message, checked (see `check`)."""
    check(template, platform, data)
    return queries.Message(
        key=key,
        platform=platform,
        workspace=workspace,
        channel=channel,
        kind=kind,
        user=user,
        template=template.value,
        data=dict(data),
    )

"""Every outbox template as Slack renders it: a registry keyed by `Template`, no if-chains."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.chat import charts, results, texts
from bot.slack import blocks, survey
from handlers import i18n
from handlers.i18n import _
from handlers.messages import Template, renderer


@dataclass(frozen=True)
class Upload:
    """A message that goes as a file upload: a chart drawn at delivery, with the figures as
    its comment (and alone when there is nothing to draw)."""

    text: str
    draw: Callable[[Mapping[str, Any]], bytes | None]
    filename: str
    title: str


Rendered = dict[str, Any] | Upload


def _survey_results(data: Mapping[str, Any]) -> Upload:
    return Upload(
        text=blocks.mrkdwn(results.survey_results(data).blocks[0]),
        draw=i18n.bound(charts.survey_png),  # drawn later, in the language of now
        filename=f"survey-{data.get('survey_id')}-{data.get('number')}.png",
        title=_("{title}, round {number}", title=data.get("title"), number=data.get("number")),
    )


def _leaderboard(data: Mapping[str, Any]) -> Upload:
    return Upload(
        text=blocks.mrkdwn(texts.leaderboard(data).blocks[0]),
        draw=i18n.bound(charts.leaderboard_png),
        filename=f"leaderboard-{data.get('sprint')}.png",
        title=_("Recognition sprint {sprint}", sprint=data.get("sprint")),
    )


def _neutral(
    build: Callable[[Mapping[str, Any]], texts.Text], *, whole: bool = False
) -> Callable[..., Rendered]:
    """A neutral text as a message; one that must go out `whole` (a drug-safety alert) is
    never shortened, and is sent as several posts when Slack needs that (`blocks.posts`)."""

    def render(data: Mapping[str, Any]) -> Rendered:
        return blocks.from_text(build(data), whole=whole, unfurl_links=False)

    return render


RENDERERS: Mapping[Template, Callable[[Mapping[str, Any]], Rendered]] = {
    Template.KUDOS_PUBLIC: blocks.kudos_public,
    Template.KUDOS_RECEIVED: blocks.kudos_received,
    Template.NOTICE: _neutral(texts.notice),
    Template.REVIEW_REQUEST: blocks.review_request,
    Template.PV_ALERT: _neutral(texts.pv_alert, whole=True),
    Template.DIGEST_WEEKLY: _neutral(texts.digest),
    Template.MILESTONE_REACHED: _neutral(texts.milestone),
    Template.LEADERBOARD_POST: _leaderboard,
    Template.SURVEY_INVITE: survey.invite,
    Template.SURVEY_RESULTS: _survey_results,
}


def render(template: str, data: Mapping[str, Any]) -> Rendered:
    """`data` as Slack shows it, in its addressee's language (`locale`, stamped on private
    messages); a channel post has none, and is in the organisation's."""
    with i18n.speaking(data.get("locale")):
        return renderer(RENDERERS, template, "Slack")(data)

"""The App Home tab: published with `views.publish` each time a person opens it
(`app_home_opened`), from `handlers.home`: their kudos this quarter, the allowance left today
and when it resets, their place on the sprint board and its top, the kudos they received
lately, a "Give kudos" button (the same form as `/kudos`) and a link to the dashboard.
After a kudos, its giver's and recipients' tabs are drawn again by
`home_refresh.Refresher`, within Slack's limit."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat import boards
from bot.chat.texts import Strong, Words, fill
from bot.runtime import Runtime
from bot.slack import blocks
from bot.slack.form import plain
from bot.slack.home_refresh import Refresher
from bot.slack.markup import escape, spans
from bot.slack.people import SlackPeople
from handlers import home as home_case
from handlers import i18n
from handlers.events import Person
from handlers.i18n import _

log = logging.getLogger("plaudit.slack")

GIVE = "home_give_kudos"


async def publish(runtime: Runtime, client: AsyncWebClient, person: Person) -> None:
    """Draw `person`'s Home tab, in their language."""
    with i18n.speaking(person.locale):
        found = await runtime.run(
            lambda s: home_case.home(person, session=s, policy=runtime.policy, clock=runtime.clock)
        )
        shown = view(found, runtime.dashboard_url)
    await client.views_publish(user_id=person.user_id, view=shown)


def register(app: AsyncApp, runtime: Runtime, people: SlackPeople) -> Refresher:
    """Listeners for the Home tab (before the catch-all event listener), and what draws it
    again after a kudos."""
    refresher = Refresher(lambda client, person: publish(runtime, client, person))

    @app.event("app_home_opened")
    async def on_home_opened(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        if event.get("tab") != "home":
            return  # the Messages tab
        team = str(context.team_id or "")
        user = str(event.get("user") or "")
        refresher.opened(team, user)
        try:
            await publish(runtime, client, await people.get(team, user))
        except SlackApiError as exc:
            log.warning("App Home not published: %s", exc.response.get("error"))

    @app.action(GIVE)
    async def on_give(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user = body.get("user") or {}
        team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        person = await people.find(team, str(user.get("id") or ""))
        with i18n.speaking(person.locale if person else None):
            form = blocks.modal(runtime.policy, None)
        await client.views_open(trigger_id=body["trigger_id"], view=form)

    return refresher


def view(found: home_case.Home, dashboard: str | None) -> dict[str, Any]:
    """The Home tab of `found` (a `home` view: at most 100 blocks, text escaped)."""
    s = found.summary
    resets = found.resets_at.strftime("%H:%M %Z").strip()
    numbers = fill(
        _("{received} received and {given} given this quarter."),
        received=Strong(str(s.received)),
        given=Strong(str(s.given)),
    )
    left = fill(
        _("{left} of {allowance} left to give today (whole again at {time})."),
        left=Strong(str(s.allowance_left)),
        allowance=str(s.allowance),
        time=resets,
    )
    rows: list[dict[str, Any]] = [
        # i18n: at most 150 characters (Slack header)
        {"type": "header", "text": {**plain(_("Your kudos"), 150), "emoji": True}},
        _mrkdwn(f"{spans(numbers)} {spans(left)}"),
        _actions(dashboard),
        {"type": "divider"},
        *_board(found),
        {"type": "divider"},
        *_recent(found),
    ]
    return {"type": "home", "blocks": rows[:100]}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _actions(dashboard: str | None) -> dict[str, Any]:
    buttons: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": GIVE,
            "style": "primary",
            # i18n: at most 75 characters (Slack button text)
            "text": {**plain(_("Give kudos"), 75), "emoji": True},
        }
    ]
    if dashboard:
        buttons.append(
            {
                "type": "button",
                "action_id": "home_dashboard",
                "url": dashboard,
                # i18n: at most 75 characters (Slack button text)
                "text": {**plain(_("Open the dashboard"), 75), "emoji": True},
            }
        )
    return {"type": "actions", "block_id": "home_actions", "elements": buttons}


def _board(found: home_case.Home) -> list[dict[str, Any]]:
    place = boards.board_place(found.sprint, found.rank, found.points, recounting=found.recounting)
    shown = [_mrkdwn(spans(place))]
    if found.sprint is None or found.recounting:
        return shown
    # Ties at the fifth place all stay on the board, which can make it thousands of rows:
    # the sentence is escaped once and each row filled in as plain text.
    line = escape(_("{rank}. {name}: {points}"))
    lines = [line.format(rank=r.rank, name=escape(r.name), points=r.points) for r in found.top]
    return [
        *shown,
        _mrkdwn("\n".join(lines) if lines else spans([Words(_("Nobody has points yet."))])),
    ]


def _recent(found: home_case.Home) -> list[dict[str, Any]]:
    lately = spans([Strong(_("Lately"))])
    if not found.recent:
        none = spans([Words(_("No kudos received yet."))])
        return [_mrkdwn(f"{lately}\n{none}")]
    said = _("{giver}, {date}: {message}")
    return [
        _mrkdwn(lately),
        *(
            _mrkdwn(
                spans(fill(said, giver=Strong(r.giver), date=f"{r.at:%d %b}", message=r.message))
            )
            for r in found.recent
        ),
    ]

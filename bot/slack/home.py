"""The App Home tab: published with `views.publish` each time a person opens it
(`app_home_opened`), from `handlers.home`: their kudos this quarter, the allowance left today
and when it resets, their place on the sprint board and its top, the kudos they received
lately, a "Give kudos" button (the same form as `/kudos`) and a link to the dashboard."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.chat import boards
from bot.runtime import Runtime
from bot.slack import blocks
from bot.slack.markup import escape, spans
from bot.slack.people import SlackPeople
from handlers import home as home_case
from handlers.events import KudosRequested, Person
from handlers.kudos import KudosResult, Recorded

log = logging.getLogger("plaudit.slack")

GIVE = "home_give_kudos"
_refreshing: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak refs)


def refresh_after(
    runtime: Runtime, client: AsyncWebClient, event: KudosRequested, result: KudosResult
) -> None:
    """After a kudos is recorded, draw the Home tab again, in the background, for its giver
    and its recipients in this workspace (whoever has it open sees it change)."""
    if not isinstance(result, Recorded) or event.giver.platform != "slack":
        return
    team = event.giver.workspace
    users = [p.user_id for p in (event.giver, *event.recipients) if p.workspace == team]
    task = asyncio.create_task(_publish_all(runtime, client, team or "", users))
    _refreshing.add(task)
    task.add_done_callback(_refreshing.discard)


async def _publish_all(
    runtime: Runtime, client: AsyncWebClient, team: str, users: list[str]
) -> None:
    for user in dict.fromkeys(users):
        person = Person("slack", team, user, user)

        def work(session: Session, person: Person = person) -> home_case.Home:
            return home_case.home(
                person, session=session, policy=runtime.policy, clock=runtime.clock
            )

        try:
            found = await runtime.run(work)
            await client.views_publish(user_id=user, view=view(found, runtime.dashboard_url))
        except SlackApiError as exc:
            log.info("App Home of %s not refreshed: %s", user, exc.response.get("error"))


def register(app: AsyncApp, runtime: Runtime, people: SlackPeople) -> None:
    """Listeners for the Home tab (before the catch-all event listener)."""

    @app.event("app_home_opened")
    async def on_home_opened(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        if event.get("tab") != "home":
            return  # the Messages tab
        team = str(context.team_id or "")
        user = str(event.get("user") or "")
        try:
            person = await people.get(team, user)
            found = await runtime.run(
                lambda s: home_case.home(
                    person, session=s, policy=runtime.policy, clock=runtime.clock
                )
            )
            await client.views_publish(user_id=user, view=view(found, runtime.dashboard_url))
        except SlackApiError as exc:
            log.warning("App Home not published: %s", exc.response.get("error"))

    @app.action(GIVE)
    async def on_give(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(
            trigger_id=body["trigger_id"], view=blocks.modal(runtime.policy, None)
        )


def view(found: home_case.Home, dashboard: str | None) -> dict[str, Any]:
    """The Home tab of `found` (a `home` view: at most 100 blocks, text escaped)."""
    s = found.summary
    resets = found.resets_at.strftime("%H:%M %Z").strip()
    rows: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your kudos", "emoji": True}},
        _mrkdwn(
            f"*{s.received}* received and *{s.given}* given this quarter. "
            f"*{s.allowance_left}* of {s.allowance} left to give today (whole again at {resets})."
        ),
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
            "text": {"type": "plain_text", "text": "Give kudos", "emoji": True},
        }
    ]
    if dashboard:
        buttons.append(
            {
                "type": "button",
                "action_id": "home_dashboard",
                "url": dashboard,
                "text": {"type": "plain_text", "text": "Open the dashboard", "emoji": True},
            }
        )
    return {"type": "actions", "block_id": "home_actions", "elements": buttons}


def _board(found: home_case.Home) -> list[dict[str, Any]]:
    place = boards.board_place(found.sprint, found.rank, found.points, recounting=found.recounting)
    shown = [_mrkdwn(spans(place))]
    if found.sprint is None or found.recounting:
        return shown
    lines = [f"{r.rank}. {escape(r.name)}: {r.points}" for r in found.top]
    return [*shown, _mrkdwn("\n".join(lines) if lines else "Nobody has points yet.")]


def _recent(found: home_case.Home) -> list[dict[str, Any]]:
    if not found.recent:
        return [_mrkdwn("*Lately*\nNo kudos received yet.")]
    said = []
    for r in found.recent:
        said.append(f"*{escape(r.giver)}*, {r.at:%d %b}: {escape(r.message)}")
    return [_mrkdwn("*Lately*"), *(_mrkdwn(line) for line in said)]

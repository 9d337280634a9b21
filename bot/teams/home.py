"""`@Plaudit me` in Teams: the same home as Slack's Home tab, as an Adaptive Card (figures as
facts, the board's top, recent kudos), with a Give kudos button that brings the kudos form
and a link to the dashboard when it is on."""

from __future__ import annotations

from typing import Any

from bot.chat import boards
from bot.teams.render import card, execute, inert, spans, text
from handlers import home as home_case

OPEN_FORM = "kudos.form"  # the Give kudos button: answered with the kudos form


def home_card(found: home_case.Home, dashboard: str | None = None) -> dict[str, Any]:
    s = found.summary
    resets = found.resets_at.strftime("%H:%M %Z").strip()
    body: list[dict[str, Any]] = [
        text("**Your kudos**", size="Medium", weight="Bolder"),
        {
            "type": "FactSet",
            "facts": [
                {"title": "Received this quarter", "value": str(s.received)},
                {"title": "Given this quarter", "value": str(s.given)},
                {"title": "Left to give today", "value": f"{s.allowance_left} of {s.allowance}"},
                {"title": "Whole again at", "value": resets},
            ],
        },
        *_board(found),
        *_recent(found),
    ]
    actions: list[dict[str, Any]] = [execute("Give kudos", OPEN_FORM, {})]
    if dashboard:
        actions.append({"type": "Action.OpenUrl", "title": "Open the dashboard", "url": dashboard})
    return card(body, actions)


def _board(found: home_case.Home) -> list[dict[str, Any]]:
    place = boards.board_place(found.sprint, found.rank, found.points, recounting=found.recounting)
    shown = [text(spans(place), separator=True)]
    if found.sprint is None or found.recounting:
        return shown
    rows = [{"title": f"{r.rank}.", "value": f"{inert(r.name)}: {r.points}"} for r in found.top]
    return shown + ([{"type": "FactSet", "facts": rows}] if rows else [])


def _recent(found: home_case.Home) -> list[dict[str, Any]]:
    blocks = [text("**Lately**", separator=True)]
    if not found.recent:
        return [*blocks, text("No kudos received yet.", isSubtle=True)]
    for r in found.recent:
        blocks.append(text(f"**{inert(r.giver)}**, {r.at:%d %b}: {inert(r.message)}"))
    return blocks

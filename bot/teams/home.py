"""`@Plaudit me` in Teams: the same home as Slack's Home tab, as an Adaptive Card (figures as
facts, the board's top, recent kudos), with a Give kudos button that brings the kudos form
and a link to the dashboard when it is on."""

from __future__ import annotations

from typing import Any

from bot.chat import boards
from bot.chat.texts import Strong
from bot.teams.render import card, execute, inert, spans, text
from handlers import home as home_case
from handlers.i18n import _

OPEN_FORM = "kudos.form"  # the Give kudos button: answered with the kudos form


def home_card(found: home_case.Home, dashboard: str | None = None) -> dict[str, Any]:
    s = found.summary
    resets = found.resets_at.strftime("%H:%M %Z").strip()
    # i18n: the kudos someone has left to give today, of their daily allowance
    left = _("{left} of {allowance}", left=s.allowance_left, allowance=s.allowance)
    body: list[dict[str, Any]] = [
        text(spans([Strong(_("Your kudos"))]), size="Medium", weight="Bolder"),
        {
            "type": "FactSet",
            "facts": [
                {"title": _("Received this quarter"), "value": str(s.received)},
                {"title": _("Given this quarter"), "value": str(s.given)},
                {"title": _("Left to give today"), "value": left},
                # i18n: the time of day the daily kudos allowance is whole again
                {"title": _("Whole again at"), "value": resets},
            ],
        },
        *_board(found),
        *_recent(found),
    ]
    actions: list[dict[str, Any]] = [execute(_("Give kudos"), OPEN_FORM, {})]
    if dashboard:
        actions.append(
            {"type": "Action.OpenUrl", "title": _("Open the dashboard"), "url": dashboard}
        )
    return card(body, actions)


def _board(found: home_case.Home) -> list[dict[str, Any]]:
    place = boards.board_place(found.sprint, found.rank, found.points, recounting=found.recounting)
    shown = [text(spans(place), separator=True)]
    if found.sprint is None or found.recounting:
        return shown
    rows = [{"title": f"{r.rank}.", "value": f"{inert(r.name)}: {r.points}"} for r in found.top]
    return shown + ([{"type": "FactSet", "facts": rows}] if rows else [])


def _recent(found: home_case.Home) -> list[dict[str, Any]]:
    blocks = [text(spans([Strong(_("Lately"))]), separator=True)]
    if not found.recent:
        return [*blocks, text(inert(_("No kudos received yet.")), isSubtle=True)]
    for r in found.recent:
        blocks.append(text(f"**{inert(r.giver)}**, {r.at:%d %b}: {inert(r.message)}"))
    return blocks

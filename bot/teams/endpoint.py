"""`POST /api/messages`: one delivered activity, read, authenticated and handled through the
Teams transport (`bot.teams.sdk`) behind the Starlette app."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from bot.runtime import Runtime
from bot.settings import Settings
from bot.teams import activity as parsed
from bot.teams.bot import Answer, TeamsBot
from bot.teams.sdk import (
    ConnectorError,
    Lookup,
    Refused,
    Transport,
    TurnFailed,
    Unreachable,
    transport,
)
from bot.teams.send import TeamsSender

log = logging.getLogger("plaudit.teams")


@dataclass
class TeamsEndpoint:
    transport: Transport
    bot: TeamsBot
    sender: TeamsSender
    # The tenants whose activities are handled; None: any (the local emulator only).
    tenants: frozenset[str] | None = frozenset()

    async def handle(self, body: bytes, authorization: str | None) -> tuple[int, Any]:
        """(HTTP status, JSON body or None) for one delivered activity."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return 400, {"error": "bad_request", "detail": "the body is not valid JSON"}
        if not isinstance(data, dict):
            return 400, {"error": "bad_request", "detail": "expected an Activity object"}
        if self.transport.parse(data) is not None:
            return 400, {"error": "bad_request", "detail": "not a Bot Framework Activity"}
        problem = _incomplete(data)
        if problem:
            return 400, {"error": "bad_request", "detail": problem}
        try:
            identity = await self.transport.authenticate(data, authorization)
        except Refused:  # the transport said why, in its log
            return 401, {"error": "unauthorized"}
        refused = self._other_tenant(data)
        if refused:
            return 403, {"error": "forbidden", "detail": refused}
        answer: list[Answer | None] = [None]

        async def logic(lookup: Lookup) -> None:
            answer[0] = await self.bot.on_turn(data, lookup)

        try:
            await self.transport.run(identity, data, logic)
        except (TurnFailed, Unreachable, ConnectorError) as exc:
            # Teams delivers again; the activity id makes the second delivery harmless.
            if not isinstance(exc, TurnFailed):
                log.warning("could not start a Teams turn: %s", exc)
            return 503, {"error": "unavailable", "detail": "please retry"}
        return answer[0] or (200, None)

    def _other_tenant(self, data: dict[str, Any]) -> str | None:
        """Why an activity from outside the served tenants is refused (before the turn runs,
        so nothing is read or written), or None."""
        if self.tenants is None:
            return None
        named = parsed.tenants_named(data)
        if len(named) == 1 and named <= self.tenants:
            return None
        log.warning(
            "refused a Teams activity from tenant %s (served: %s)",
            ", ".join(sorted(named)) or "none named",
            ", ".join(sorted(self.tenants)) or "none",
        )
        return "this organisation's Teams is not served by this Plaudit"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _incomplete(data: dict[str, Any]) -> str | None:
    if not _text(data.get("type")):
        return "the activity has no type"
    if not _text(data.get("serviceUrl")).startswith(("https://", "http://")):
        return "the activity has no serviceUrl"
    if not _text(parsed.conversation(data).get("id")):
        return "the activity has no conversation"
    if not _text(parsed.sender(data).get("id")):
        return "the activity has no sender"
    return None


def teams_endpoint(settings: Settings, runtime: Runtime) -> TeamsEndpoint:
    if settings.teams_unauthenticated:
        log.warning(
            "TEAMS AUTHENTICATION IS OFF (PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED=true): anyone "
            "who can reach /api/messages can act as any Teams user. Use only with a local "
            "emulator."
        )
    carrier = transport(settings)
    log.info("Teams traffic is carried by the %s SDK", carrier.name)
    runtime.teams_tenants = settings.teams_allowed_tenants or None
    bot = TeamsBot(runtime, carrier)
    sender = TeamsSender(carrier, runtime, settings.microsoft_app_id)
    return TeamsEndpoint(carrier, bot, sender, settings.teams_allowed_tenants)

"""`POST /api/messages`: botbuilder's CloudAdapter behind the Starlette app."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from msrest.exceptions import DeserializationError  # type: ignore[attr-defined]

from bot.runtime import Runtime
from bot.settings import Settings
from bot.teams import activity as parsed
from bot.teams.auth import authentication
from bot.teams.bot import TeamsBot
from bot.teams.send import TeamsSender

log = logging.getLogger("plaudit.teams")
# msrest warns of every field Teams sends that the schema classes do not name.
logging.getLogger("msrest.serialization").setLevel(logging.ERROR)


class TurnFailed(Exception):
    """The bot could not handle an activity; the channel should deliver it again."""


@dataclass
class TeamsEndpoint:
    adapter: CloudAdapter
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
        try:
            activity = Activity().deserialize(data)
        except (DeserializationError, ValueError, TypeError, AttributeError):
            return 400, {"error": "bad_request", "detail": "not a Bot Framework Activity"}
        problem = _incomplete(activity)
        if problem:
            return 400, {"error": "bad_request", "detail": problem}
        try:
            authenticated = await self.adapter.bot_framework_authentication.authenticate_request(
                activity, authorization or ""
            )
        except Exception as exc:  # the SDK raises PermissionError, or whatever jwt raised
            log.info("refused a Teams activity: %s: %s", type(exc).__name__, exc)
            return 401, {"error": "unauthorized"}
        if authenticated is None or authenticated.claims_identity is None:
            log.info("refused a Teams activity without a usable token")
            return 401, {"error": "unauthorized"}
        refused = self._other_tenant(activity)
        if refused:
            return 403, {"error": "forbidden", "detail": refused}
        try:
            invoke = await self.adapter.process_activity(authenticated, activity, self.bot.on_turn)
        except TurnFailed:
            # Teams delivers again; the activity id makes the second delivery harmless.
            return 503, {"error": "unavailable", "detail": "please retry"}
        if invoke is None:
            return 200, None
        return int(invoke.status), invoke.body

    def _other_tenant(self, activity: Activity) -> str | None:
        """Why an activity from outside the served tenants is refused (before the turn runs,
        so nothing is read or written), or None."""
        if self.tenants is None:
            return None
        named = parsed.tenants_named(activity)
        if len(named) == 1 and named <= self.tenants:
            return None
        log.warning(
            "refused a Teams activity from tenant %s (served: %s)",
            ", ".join(sorted(named)) or "none named",
            ", ".join(sorted(self.tenants)) or "none",
        )
        return "this organisation's Teams is not served by this Plaudit"


def _incomplete(activity: Activity) -> str | None:
    if not activity.type:
        return "the activity has no type"
    if not activity.service_url or not str(activity.service_url).startswith(
        ("https://", "http://")
    ):
        return "the activity has no serviceUrl"
    if activity.conversation is None or not activity.conversation.id:
        return "the activity has no conversation"
    if activity.from_property is None or not activity.from_property.id:
        return "the activity has no sender"
    return None


def teams_endpoint(settings: Settings, runtime: Runtime) -> TeamsEndpoint:
    if settings.teams_unauthenticated:
        log.warning(
            "TEAMS AUTHENTICATION IS OFF (PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED=true): anyone "
            "who can reach /api/messages can act as any Teams user. Use only with a local "
            "emulator."
        )
    adapter = CloudAdapter(authentication(settings))

    async def on_error(turn_context: TurnContext, error: Exception) -> None:
        log.error(
            "Teams turn failed for activity %s",
            turn_context.activity.id,
            exc_info=(type(error), error, error.__traceback__),
        )
        raise TurnFailed() from error

    adapter.on_turn_error = on_error
    runtime.teams_tenants = settings.teams_allowed_tenants or None
    bot = TeamsBot(runtime)
    sender = TeamsSender(adapter, runtime, settings.microsoft_app_id)
    return TeamsEndpoint(adapter, bot, sender, settings.teams_allowed_tenants)

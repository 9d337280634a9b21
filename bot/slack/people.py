"""Who a Slack user id is: `users.info`, cached for an hour, as a neutral `Person` (with the
locale their Slack speaks, so Plaudit answers them in it)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.clients import NotInstalled, SlackClients
from handlers.events import Person

log = logging.getLogger("plaudit.slack")
_GONE = {"user_not_found", "user_not_visible", "account_inactive"}


class SlackPeople:
    """Resolves user ids through `users.info`; failures other than "no such user" raise.

    A command naming ten people must be answered within Slack's three seconds, and each
    `users.info` takes a round trip: several are asked at once (at most `parallel`, well
    inside the method's Tier 4), and one person asked for twice at the same time is asked
    once."""

    def __init__(
        self,
        clients: SlackClients | AsyncWebClient,
        *,
        ttl: float = 3600.0,
        size: int = 20000,
        parallel: int = 8,
    ) -> None:
        # Each workspace's users are asked with that workspace's token.
        self._clients = clients if isinstance(clients, SlackClients) else SlackClients(clients)
        self._ttl = ttl
        self._size = size
        self._parallel = parallel
        self._cache: OrderedDict[tuple[str, str], tuple[float, Person]] = OrderedDict()
        self._asking: dict[tuple[str, str], asyncio.Future[Person]] = {}

    @property
    def clients(self) -> SlackClients:
        return self._clients

    async def get(self, team_id: str, user_id: str) -> Person:
        key = (team_id, user_id)
        hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        asking = self._asking.get(key)
        if asking is not None:
            return await asyncio.shield(asking)
        future: asyncio.Future[Person] = asyncio.get_running_loop().create_future()
        self._asking[key] = future
        try:
            person = await self._fetch(team_id, user_id)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting for it
            raise
        finally:
            del self._asking[key]
        future.set_result(person)
        self._cache[key] = (time.monotonic() + self._ttl, person)
        self._cache.move_to_end(key)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return person

    async def find(self, team_id: str, user_id: str) -> Person | None:
        """`get`, or None when Slack cannot say now: for the language of an answer, which
        is better given in the organisation's language than not at all."""
        try:
            return await self.get(team_id, user_id)
        except (SlackApiError, NotInstalled, aiohttp.ClientError, TimeoutError) as exc:
            log.info("%s not looked up for their language: %r", user_id, exc)
            return None

    async def many(self, team_id: str, user_ids: tuple[str, ...]) -> tuple[Person, ...]:
        """The people `user_ids` name, in order, asked for together (see the class)."""
        gate = asyncio.Semaphore(self._parallel)

        async def one(user_id: str) -> Person:
            async with gate:
                return await self.get(team_id, user_id)

        unique = list(dict.fromkeys(user_ids))
        found = dict(zip(unique, await asyncio.gather(*map(one, unique)), strict=True))
        return tuple(found[uid] for uid in user_ids)

    async def _fetch(self, team_id: str, user_id: str) -> Person:
        try:
            client = await self._clients.for_team(team_id)
            response = await client.users_info(user=user_id, include_locale=True)
        except SlackApiError as exc:
            if exc.response.get("error") in _GONE:
                return Person("slack", team_id, user_id, user_id, exists=False)
            raise
        user: dict[str, Any] = response["user"]
        profile: dict[str, Any] = user.get("profile") or {}
        name = (
            profile.get("display_name")
            or user.get("real_name")
            or profile.get("real_name")
            or user.get("name")
            or user_id
        )
        return Person(
            platform="slack",
            workspace=team_id,
            user_id=user_id,
            display_name=str(name),
            timezone=user.get("tz"),
            email=profile.get("email"),
            is_bot=bool(user.get("is_bot")) or user_id == "USLACKBOT",
            deleted=bool(user.get("deleted")),
            external=_external(user, team_id),
            locale=str(user["locale"]) if user.get("locale") else None,
        )


def _external(user: dict[str, Any], team_id: str) -> bool:
    """A guest (multi- or single-channel) or a Slack Connect user of another organisation:
    `is_stranger`, or a home team other than this workspace outside an Enterprise Grid
    (whose workspaces share one organisation)."""
    if user.get("is_restricted") or user.get("is_ultra_restricted") or user.get("is_stranger"):
        return True
    home = user.get("team_id")
    return bool(home and home != team_id and not user.get("enterprise_user"))

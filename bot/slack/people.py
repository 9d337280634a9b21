"""Who a Slack user id is: `users.info`, cached for an hour, as a neutral `Person`."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.clients import SlackClients
from handlers.events import Person

_GONE = {"user_not_found", "user_not_visible", "account_inactive"}


class SlackPeople:
    """Resolves user ids through `users.info`; failures other than "no such user" raise."""

    def __init__(
        self, clients: SlackClients | AsyncWebClient, *, ttl: float = 3600.0, size: int = 20000
    ) -> None:
        # Each workspace's users are asked with that workspace's token.
        self._clients = clients if isinstance(clients, SlackClients) else SlackClients(clients)
        self._ttl = ttl
        self._size = size
        self._cache: OrderedDict[tuple[str, str], tuple[float, Person]] = OrderedDict()

    async def get(self, team_id: str, user_id: str) -> Person:
        key = (team_id, user_id)
        hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        person = await self._fetch(team_id, user_id)
        self._cache[key] = (time.monotonic() + self._ttl, person)
        self._cache.move_to_end(key)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return person

    async def many(self, team_id: str, user_ids: tuple[str, ...]) -> tuple[Person, ...]:
        return tuple([await self.get(team_id, uid) for uid in user_ids])

    async def _fetch(self, team_id: str, user_id: str) -> Person:
        try:
            client = await self._clients.for_team(team_id)
            response = await client.users_info(user=user_id)
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
        )

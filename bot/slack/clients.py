"""The Slack Web API client for a workspace: the one bot token, or the workspace's own."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger import get_bolt_logger
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.install import Installations


class NotInstalled(Exception):
    """Plaudit has no installation (bot token) in this Slack workspace."""

    def __init__(self, team_id: str | None) -> None:
        super().__init__(
            f"Plaudit is not installed in Slack workspace {team_id}"
            if team_id
            else "no Slack workspace to send with (set PLAUDIT_SLACK_HOME_WORKSPACE)"
        )
        self.team_id = team_id


class SlackClients:
    """Hands out clients per workspace. With one bot token every workspace gets `base`;
    with OAuth installs, a client with the workspace's bot token from the installation
    store, sharing `base`'s connection pool. Tokens are cached briefly: an uninstall
    here forgets at once, one seen by another replica within `ttl`."""

    def __init__(
        self,
        base: AsyncWebClient,
        installations: Installations | None = None,
        *,
        home: str | None = None,
        ttl: float = 300.0,
    ) -> None:
        self.base = base
        self.installations = installations
        self.home = home
        self._ttl = ttl
        self._cache: dict[str, tuple[float, AsyncWebClient]] = {}

    @property
    def multi_workspace(self) -> bool:
        return self.installations is not None

    async def for_team(self, team_id: str | None) -> AsyncWebClient:
        """The client for `team_id` (None: the home workspace); NotInstalled without one."""
        if self.installations is None:
            return self.base
        team = team_id or self.home
        if not team:
            raise NotInstalled(None)
        hit = self._cache.get(team)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        token = await self.installations.bot_token(team)
        if token is None:
            self._cache.pop(team, None)
            raise NotInstalled(team)
        client = AsyncWebClient(
            token=token,
            base_url=self.base.base_url,
            timeout=self.base.timeout,
            session=self.base.session,
            retry_handlers=[],  # the outbox owns retries
        )
        self._cache[team] = (time.monotonic() + self._ttl, client)
        return client

    def forget(self, team_id: str) -> None:
        self._cache.pop(team_id, None)


@contextlib.contextmanager
def same_token_as_environment(client: AsyncWebClient) -> Iterator[None]:
    """Bolt reads SLACK_BOT_TOKEN from the environment (no option stops it) and warns it "will
    be unused" beside our client (needed for its base URL, timeout and retries); when the
    client holds that very token the warning says nothing and is left out, others are kept."""
    unused = warning_client_prioritized_and_token_skipped()
    same = client.token is not None and client.token == os.environ.get("SLACK_BOT_TOKEN")

    def keep(record: logging.LogRecord) -> bool:
        return not (same and record.getMessage() == unused)

    bolt = get_bolt_logger(AsyncApp)
    bolt.addFilter(keep)
    try:
        yield
    finally:
        bolt.removeFilter(keep)

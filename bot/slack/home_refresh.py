"""Home tabs drawn again after kudos, in the background, within Slack's limit.

`views.publish` is Tier 4 ("100+ per minute") per workspace. A kudos names its giver and its
recipients, so a busy hour would ask for far more redraws than Slack takes, and each one
reads the person's figures and the board. People wait here instead, in the order they were
named, and are drawn one at a time at most `PUBLISH_LIMIT` a minute per workspace: a person
named in more kudos while they wait is drawn once, with all of them. A 429 waits as long as
Slack says and the person is drawn then. Opening the tab draws it at once (`opened`) and
takes the person off the queue. Nothing here is kept: a Home tab not redrawn before a
restart is drawn afresh the next time its owner opens it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.limits import Budget, retry_after
from handlers.events import KudosRequested, Person
from handlers.kudos import KudosResult, Recorded

log = logging.getLogger("plaudit.slack")

# Kept under Tier 4 (100 a minute per workspace): calls are counted here when they leave and
# by Slack when they arrive, and the Home tab opened by its owner is drawn too.
PUBLISH_LIMIT = (90, 60.0)

Publish = Callable[[AsyncWebClient, Person], Awaitable[None]]
_Key = tuple[str, str]  # (workspace, user)


class Refresher:
    """The Home tabs waiting to be drawn again, and the one task that draws them."""

    def __init__(self, publish: Publish, *, budget: Budget | None = None) -> None:
        self._publish = publish
        self.budget = budget or Budget(*PUBLISH_LIMIT)
        self._waiting: dict[_Key, tuple[AsyncWebClient, Person]] = {}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def after(self, client: AsyncWebClient, event: KudosRequested, result: KudosResult) -> None:
        """A kudos was recorded: its giver and recipients in this workspace wait to be drawn
        again, each in their own language (the kudos' people were looked up with it)."""
        if not isinstance(result, Recorded) or event.giver.platform != "slack":
            return
        team = event.giver.workspace or ""
        for person in (event.giver, *event.recipients):
            if person.workspace == event.giver.workspace:
                # A person already waiting keeps their place; the newest client serves them.
                self._waiting[(team, person.user_id)] = (client, person)
        self._start()

    def opened(self, team: str, user: str) -> None:
        """`user` opened their Home tab and it is drawn now: it no longer waits, and the call
        counts against the workspace's budget."""
        self._waiting.pop((team, user), None)
        self.budget.take(team)

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._drain(self._wake))
        assert self._wake is not None
        self._wake.set()

    async def _drain(self, wake: asyncio.Event) -> None:
        while True:
            if not self._waiting:
                wake.clear()
                await wake.wait()
                continue
            key, wait = self._next()
            if key is None:
                wake.clear()  # a new name wakes us early, in case its workspace may go
                await _sleep_or(wake, wait)
                continue
            client, person = self._waiting.pop(key)
            try:
                await self._publish(client, person)
            except SlackApiError as exc:
                if exc.response.status_code == 429:
                    self.budget.pause(key[0], retry_after(exc))
                    self._waiting.setdefault(key, (client, person))
                else:
                    log.info("App Home of %s not refreshed: %s", key[1], exc.response.get("error"))
            except Exception:  # one person's failure must not stop the others' redraws
                log.exception("App Home of %s not refreshed", key[1])

    def _next(self) -> tuple[_Key | None, float]:
        """The first waiting person whose workspace may publish now (the call is counted),
        or None and the seconds until one may."""
        waits: dict[str, float] = {}
        for key in self._waiting:
            team = key[0]
            if team in waits:
                continue
            wait = self.budget.take(team)
            if wait <= 0:
                return key, 0.0
            waits[team] = wait
        return None, min(waits.values())


async def _sleep_or(wake: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), timeout=seconds)

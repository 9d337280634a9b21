"""Answering a slash command in time: in the HTTP response when the answer is ready within
about two seconds (Slack gives up at three), else through the command's `response_url`
once it is ready. Either way the giver gets the answer once."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck
from slack_bolt.response import BoltResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

log = logging.getLogger("plaudit.slack")

# Slack shows "operation_timeout" 3 s after it sent the command; the network and Bolt take
# some of that.
ANSWER_WITHIN = 2.0
# A response_url takes answers for 30 minutes: a few tries are worth it.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)

# Commands still at work after they were acknowledged, held so that they finish.
_following: set[asyncio.Future[Any]] = set()


class _Held(AsyncAck):
    """Stands in for Bolt's `ack` in a command's work: keeps the first answer and says so."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.given = asyncio.Event()

    async def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        if self.given.is_set():
            log.debug("a command answered twice; the first answer stands")
            assert self.response is not None
            return self.response
        response = await super().__call__(*args, **kwargs)
        self.given.set()
        return response

    def body(self) -> dict[str, Any]:
        """The answer as a whole JSON body (empty: nothing to say); Bolt keeps a bare text
        as it is."""
        text = self.response.body if self.response is not None else ""
        if not text:
            return {}
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return parsed if isinstance(parsed, dict) else {"text": text}


async def answer(
    ack: AsyncAck,
    work: Callable[[AsyncAck], Awaitable[None]],
    *,
    response_url: str | None,
    sorry: str,
    session: aiohttp.ClientSession | None = None,
    within: float = ANSWER_WITHIN,
) -> None:
    """Run a command's `work`, which answers through the `ack` it is given. An answer given
    within `within` seconds is the command's acknowledgement; past that the command is
    acknowledged empty and the answer, when it comes, goes to `response_url`. Work that
    fails without answering is answered with `sorry`."""
    held = _Held()
    task = asyncio.ensure_future(work(held))
    waiting = asyncio.ensure_future(held.given.wait())
    either: set[asyncio.Future[Any]] = {waiting, task}
    await asyncio.wait(either, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if held.given.is_set() or task.done():
        body = held.body() if held.given.is_set() else _failed(task, sorry)
        await (ack(body) if body else ack())
        _hold(task)  # it may go on after answering (a form to open, the outbox to wake)
        return
    # The one decision: from here on the answer can only go through response_url.
    await ack()
    _hold(asyncio.ensure_future(_follow_up(held, task, response_url, sorry, session)))


def _hold(future: asyncio.Future[Any]) -> None:
    if not future.done():
        _following.add(future)
        future.add_done_callback(_following.discard)
    future.add_done_callback(_log_failure)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("a command failed", exc_info=future.exception())


def _failed(task: asyncio.Future[None], sorry: str) -> dict[str, Any]:
    """The answer to work that ended without one: `sorry` if it failed, else nothing."""
    broken = task.cancelled() or task.exception() is not None
    return {"response_type": "ephemeral", "text": sorry} if broken else {}


async def _follow_up(
    held: _Held,
    task: asyncio.Future[None],
    url: str | None,
    sorry: str,
    session: aiohttp.ClientSession | None,
) -> None:
    waiting = asyncio.ensure_future(held.given.wait())
    either: set[asyncio.Future[Any]] = {waiting, task}
    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    body = held.body() if held.given.is_set() else _failed(task, sorry)
    if not body:
        return
    if not url:
        log.error("a command's answer came too late for its acknowledgement, with no URL")
        return
    await _post(url, {"response_type": "ephemeral", **body}, session)


async def _post(url: str, body: dict[str, Any], session: aiohttp.ClientSession | None) -> None:
    hook = AsyncWebhookClient(url, timeout=10, session=session, retry_handlers=[])
    for delay in (*RETRY_DELAYS, None):
        try:
            response = await hook.send_dict(body)
            if response.status_code < 500 and response.status_code != 429:
                if response.status_code != 200:
                    log.warning("response_url refused an answer: %s", response.body)
                return
            log.warning("response_url answered HTTP %s", response.status_code)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not reach response_url: %r", exc)
        if delay is None:
            log.error("a command's answer could not be delivered through its response_url")
            return
        await asyncio.sleep(delay)

"""The webhook re-fetches' queue: bounded, each object queued once however often the store
calls about it, worked through one at a time on a thread of its own.

A burst of webhooks (300 order updates from a bulk edit) must neither spend more than
Plaudit's share of the store's quota nor take the event loop's worker threads, which other
requests (a dashboard sign-in) need: so one daemon thread re-fetches, with the one shared
client, while the loop only keeps the queue.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, Literal, TypeVar

from bot.bigcommerce.models import Kind
from bot.bigcommerce.reports import RefetchReport

log = logging.getLogger(__name__)

T = TypeVar("T")

Outcome = Literal["queued", "coalesced", "full"]

DEFAULT_LIMIT = 1_000
"""Objects waiting at most; past that a webhook is refused (503) and the store delivers it
again later."""


class Lane:
    """One daemon thread that runs the calls given to it, one after another, and ends when it
    has had nothing to do for `idle` seconds (the next call starts another).

    A daemon, not an executor's thread: a stop need not wait for a re-fetch that is waiting
    out the store's rate-limit window."""

    def __init__(self, name: str, *, idle: float = 30.0) -> None:
        self.name = name
        self.idle = idle
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, call: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            self._calls.put((call, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()
        return future

    def _serve(self) -> None:
        while True:
            try:
                call, future = self._calls.get(timeout=self.idle)
            except queue.Empty:
                with self._lock:
                    if self._calls.empty():
                        self._thread = None
                        return
                continue
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to whoever awaits the future
                future.set_exception(exc)


class RefetchQueue:
    """Objects to fetch again, oldest first, each at most once in the queue.

    An object asked for again while it is being fetched is queued again: the fetch under way
    may have read it before the change the new webhook announces. Used from the event loop.
    """

    def __init__(
        self,
        refetch: Callable[[Kind, int], RefetchReport],
        *,
        limit: int = DEFAULT_LIMIT,
        done: Callable[[RefetchReport], None] | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be positive")
        self.limit = limit
        self.coalesced = 0
        self.refused = 0
        self._refetch = refetch
        self._done = done
        self._pending: dict[tuple[Kind, int], None] = {}
        self._worker: asyncio.Task[None] | None = None
        self._lane = Lane("bigcommerce-refetch")

    def __len__(self) -> int:
        return len(self._pending)

    def offer(
        self, kind: Kind, object_id: int, tasks: set[asyncio.Task[object]] | None = None
    ) -> Outcome:
        """Queue a re-fetch; the worker that drains the queue is added to `tasks` (so the
        app's shutdown can wait for it) while it runs."""
        key = (kind, object_id)
        if key in self._pending:
            self.coalesced += 1
            return "coalesced"
        if len(self._pending) >= self.limit:
            self.refused += 1
            log.warning(
                "BigCommerce re-fetch queue full (%d waiting): %s %d refused", self.limit, *key
            )
            return "full"
        self._pending[key] = None
        if self._worker is None or self._worker.done():
            worker: asyncio.Task[Any] = asyncio.get_running_loop().create_task(self._drain())
            self._worker = worker
            if tasks is not None:
                tasks.add(worker)
                worker.add_done_callback(tasks.discard)
        return "queued"

    async def _drain(self) -> None:
        while self._pending:
            kind, object_id = key = next(iter(self._pending))
            del self._pending[key]
            try:
                report = await asyncio.wrap_future(
                    self._lane.submit(partial(self._refetch, kind, object_id))
                )
            except Exception:
                log.exception("BigCommerce re-fetch of %s %d failed", kind, object_id)
                continue
            if self._done is not None:
                self._done(report)

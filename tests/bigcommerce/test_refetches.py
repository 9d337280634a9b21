"""The webhook re-fetch queue: bounded, one entry per object, one re-fetch at a time on a
thread of its own."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.bigcommerce.models import Kind
from bot.bigcommerce.refetches import Outcome, RefetchQueue
from bot.bigcommerce.reports import RefetchReport


class SlowStore:
    """Re-fetches that wait until the test lets them go, noting where and how many at once."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.started = threading.Event()
        self.fetched: list[tuple[Kind, int]] = []
        self.threads: set[str] = set()
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def refetch(self, kind: Kind, object_id: int) -> RefetchReport:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.threads.add(threading.current_thread().name)
        self.started.set()
        self.go.wait(10)
        with self._lock:
            self.running -= 1
        self.fetched.append((kind, object_id))
        if object_id == 13:
            raise RuntimeError("the store sent something odd")
        return RefetchReport(kind=kind, id=object_id, found=True)


def test_the_queue_joins_repeats_refuses_past_its_limit_and_runs_one_at_a_time() -> None:
    store = SlowStore()
    done: list[RefetchReport] = []

    async def scenario() -> list[Outcome]:
        tasks: set[asyncio.Task[object]] = set()
        queue = RefetchQueue(store.refetch, limit=3, done=done.append)
        outcomes = [queue.offer("order", 1, tasks)]
        await asyncio.to_thread(store.started.wait, 10)  # order 1 is being fetched
        outcomes += [
            queue.offer("order", 1, tasks),  # in flight: fetched again afterwards
            queue.offer("order", 13, tasks),
            queue.offer("order", 1, tasks),  # already waiting: joins it
            queue.offer("channel", 2, tasks),
            queue.offer("order", 4, tasks),  # three waiting: refused
        ]
        assert len(queue) == 3 and len(tasks) == 1
        store.go.set()
        await asyncio.wait(set(tasks), timeout=10)
        assert not tasks and len(queue) == 0
        assert (queue.coalesced, queue.refused) == (1, 1)
        return outcomes

    outcomes = asyncio.run(scenario())

    assert outcomes == ["queued", "queued", "queued", "coalesced", "queued", "full"]
    assert store.fetched == [("order", 1), ("order", 1), ("order", 13), ("channel", 2)]
    assert store.threads == {"bigcommerce-refetch"} and store.most_at_once == 1
    # The one that raised is logged and skipped; the queue goes on with the next.
    assert [(r.kind, r.id) for r in done] == [("order", 1), ("order", 1), ("channel", 2)]


def test_the_queue_must_hold_something() -> None:
    with pytest.raises(ValueError, match="positive"):
        RefetchQueue(SlowStore().refetch, limit=0)

"""The kept analytics rollups (`handlers.rollups`), computed again by the scheduler: what is
due is read in one transaction, then each period is counted and written in a transaction
of its own (on SQLite each holds the one writer's turn for the time it counts a period)."""

from __future__ import annotations

import logging
from functools import partial

from bot.observability import metrics
from bot.runtime import Runtime
from handlers import rollups

log = logging.getLogger("plaudit.scheduler")
SECONDS = 300.0  # the current week and month are counted again this often


async def refresh(runtime: Runtime) -> int:
    """One run: the periods computed (a failure is logged; the next run tries again)."""
    now = runtime.clock.now()
    done = 0
    try:
        for every, bucket in await runtime.run_alongside(partial(rollups.due, now=now)):
            await runtime.run_alongside(
                partial(rollups.refresh, every=every, period=bucket, now=now)
            )
            done += 1
        await runtime.run_alongside(partial(rollups.drop_old, now=now))
    except Exception:
        metrics.count_run("analytics.refresh", "error")
        log.exception("refreshing the analytics rollups failed; the next run tries again")
        return done
    metrics.count_run("analytics.refresh", "ok")
    return done

"""The kept analytics (`handlers.rollups`, `handlers.pilots_kept`), worked out again by the
scheduler: what is due is read in one transaction, then each period is counted and written
in a transaction of its own (on SQLite each holds the one writer's turn for the time it
counts a period), then the pilots' comparison when a rollout is configured."""

from __future__ import annotations

import logging
from functools import partial

from bot.observability import metrics
from bot.runtime import Runtime
from handlers import pilots_kept, rollups
from handlers.collaboration import threshold

log = logging.getLogger("plaudit.scheduler")
SECONDS = 300.0  # the current week and month are counted again this often


async def refresh(runtime: Runtime) -> int:
    """One run: the periods computed (a failure is logged; the next run tries again)."""
    now = runtime.clock.now()
    done = 0
    try:
        periods = await runtime.run_alongside(partial(rollups.due, now=now))
        state = await runtime.run_alongside(rollups.roster) if periods else None
        for every, bucket in periods:
            await runtime.run_alongside(
                partial(rollups.refresh, every=every, period=bucket, now=now, state=state)
            )
            done += 1
        await runtime.run_alongside(partial(rollups.drop_old, now=now))
        rollout = runtime.policy.rollout
        if rollout is not None:
            least = threshold(runtime.surveys)
            keep = partial(pilots_kept.keep, rollout=rollout, today=now.date(), least=least)
            await runtime.run_alongside(partial(keep, now=now))
    except Exception:
        metrics.count_run("analytics.refresh", "error")
        log.exception("refreshing the analytics rollups failed; the next run tries again")
        return done
    metrics.count_run("analytics.refresh", "ok")
    return done

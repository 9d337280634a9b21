"""The kept analytics (`handlers.rollups`, `handlers.pilots_kept`), worked out again by the
scheduler: what is due is read in one transaction, then each period's pairs are read in a
transaction, counted outside any, and written in a transaction of their own; then the
pilots' comparison when a rollout is configured."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from bot.observability import metrics
from bot.runtime import Runtime
from handlers import pilots_kept, rollups
from handlers.collaboration import threshold
from handlers.rollup_tally import tally

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
            # Read, counted off the database's thread, then written: the counting (seconds
            # for a month of a million kudos) holds no transaction and delays no use case.
            rows = await runtime.run_alongside(partial(rollups.read, period=bucket))
            found = await asyncio.to_thread(tally, rows)
            write = partial(rollups.write, every=every, period=bucket, now=now, found=found)
            await runtime.run_alongside(partial(write, state=state))
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

"""The audit sealer: about every second, the replica that leads seals the entries written
since, signs a checkpoint and publishes it outside the database.

Writers never wait for it: they append entries and commit. An entry written while no
replica seals (a stop, a crash, a change of leader) waits in the table and is sealed, in
the order it is found, the next time one does; nothing is lost between append and seal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from bot.audit.checkpoints import Publisher
from bot.jobs.leader import Leadership
from bot.runtime import Runtime
from storage.audit import AuditKey, HeadMismatch, Sealed, seal_all

log = logging.getLogger("plaudit.audit")


class Sealer:
    def __init__(
        self,
        runtime: Runtime,
        key: AuditKey,
        publisher: Publisher,
        *,
        every: float = 1.0,
        leader: Leadership | None = None,
    ) -> None:
        self.runtime = runtime
        self.key = key
        self.publisher = publisher
        self.every = every
        self.leader = leader  # None: this process always seals
        self.sealed = 0  # entries sealed by this process, for the metrics and tests
        self.last_at: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._broken = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="plaudit-sealer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._leading():
            await self.seal(final=True)  # what was written up to the stop
        self.publisher.close()

    @property
    def role(self) -> str:
        """What this replica's sealer is doing, for `/readyz`: sealing (it leads), standby
        (another replica leads) or refusing (the trail no longer ends where its newest
        checkpoint says, so nothing more is sealed onto it until someone looks)."""
        if self._broken:
            return "refusing"
        return "sealing" if self._leading() else "standby"

    def _leading(self) -> bool:
        return self.leader is None or self.leader.is_leader

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            if self._leading():
                await self.seal()

    async def seal(self, *, final: bool = False) -> Sealed | None:
        """Seal what is waiting now; None when it could not (logged, tried again later)."""
        async with self._lock:
            try:
                done = await asyncio.to_thread(
                    seal_all, self.runtime.engine, self.key, now=self.runtime.clock.now()
                )
            except HeadMismatch as exc:
                if not self._broken:
                    log.critical("audit trail NOT sealed: %s", exc)
                self._broken = True
                return None
            except Exception as exc:  # the database may be restarting: the next run retries
                log.warning("audit seal failed, retrying: %s: %s", type(exc).__name__, exc)
                return None
            self._broken = False
            if done.checkpoint is not None:
                self.sealed += done.added
                self.last_at = done.checkpoint.at
                await asyncio.to_thread(self.publisher.publish, done.checkpoint, now=final)
            return done

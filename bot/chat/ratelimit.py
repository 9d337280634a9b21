"""A per-person limit on commands, so one person (or a script with their token) cannot
flood the bot: a token bucket per (platform, workspace, user), kept in memory."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from handlers.i18n import _


class PerUserLimit:
    """`burst` commands at once, refilled at `per_minute` a minute."""

    def __init__(
        self,
        *,
        per_minute: float = 20.0,
        burst: int = 10,
        size: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.size = size
        self.clock = clock
        self._buckets: OrderedDict[tuple[str, ...], tuple[float, float]] = OrderedDict()

    def wait(self, *who: str) -> float:
        """0 when this command may go ahead (and count it), else seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        tokens, seen = self._buckets.get(who, (self.burst, now))
        tokens = min(self.burst, tokens + (now - seen) * self.rate)
        if tokens < 1.0:
            self._buckets[who] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[who] = (tokens - 1.0, now)
        self._buckets.move_to_end(who)
        while len(self._buckets) > self.size:
            self._buckets.popitem(last=False)
        return 0.0


def too_fast(seconds: float) -> str:
    return _(
        "You're sending commands faster than Plaudit accepts them; nothing was recorded. "
        "Please try again in {seconds} s.",
        seconds=max(1, math.ceil(seconds)),
    )

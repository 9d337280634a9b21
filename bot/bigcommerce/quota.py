"""Sharing a store's API quota: its rate-limit headers, Plaudit's share of each window, and
the waits and jittered backoff between attempts.

A store (or a proxy in front of it) that sends no rate-limit headers is paced as the smallest
plan's quota would be: `DEFAULT_QUOTA` requests a `DEFAULT_WINDOW_MS` window, of which Plaudit
spends its share.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import requests

from bot.observability import metrics

# Waits and retries are the client's to report: they log under its name.
log = logging.getLogger("bot.bigcommerce.client")

MAX_THROTTLED_RETRIES = 20
"""How many 429 answers one call waits out before it gives up."""

DEFAULT_QUOTA = 150
DEFAULT_WINDOW_MS = 30_000
"""BigCommerce's quota for Standard and Plus stores ("150 / 30sec", API rate limits), the
lowest of its plans: assumed until the store says otherwise."""

_WINDOW_MARGIN_S = 0.05
_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 30.0


@dataclass
class ClientStats:
    """What the client has spent so far; `last_*` echo the store's rate-limit headers."""

    requests: int = 0
    throttled: int = 0
    skipped: int = 0
    """Items of listings left out because they could not be read."""
    retries: int = 0
    waited_seconds: float = 0.0
    last_quota: int | None = None
    last_requests_left: int | None = None
    last_window_ms: int | None = None
    last_reset_ms: int | None = None


@dataclass
class _Window:
    """Plaudit's own view of the store's current rate-limit window."""

    ends_at: float | None = None
    own_requests: int = 0


class Quota:
    """Plaudit's share of one store's request quota, and the waits that keep to it.

    BigCommerce gives every store one request quota per time window for all of its apps
    together; Plaudit spends at most `share` of each window and then waits for it to reset.
    """

    def __init__(
        self,
        stats: ClientStats,
        *,
        share: float,
        max_retries: int,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self.stats = stats
        self._share = share
        self._max_retries = max_retries
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng
        self._window = _Window()

    def respect(self) -> None:
        """Wait for the window to reset once Plaudit's share, or the store's quota, is spent."""
        window = self._window
        if window.ends_at is None:
            return
        now = self._monotonic()
        if now >= window.ends_at:
            return
        quota = self.stats.last_quota if self.stats.last_quota is not None else DEFAULT_QUOTA
        share_spent = window.own_requests >= self._budget(quota)
        left = self.stats.last_requests_left
        store_spent = left is not None and left <= 1
        if share_spent or store_spent:
            delay = window.ends_at - now + _WINDOW_MARGIN_S
            log.debug(
                "BigCommerce quota %s for this window; waiting %.2fs",
                "share used" if share_spent else "nearly exhausted",
                delay,
            )
            self.wait(delay)

    def _budget(self, quota: int) -> int:
        return max(1, math.floor(quota * self._share + 1e-9))

    def unanswered(self) -> None:
        """Count a request that got no answer: the store may have counted it all the same."""
        self._window.own_requests += 1

    def observe(self, response: requests.Response) -> None:
        quota = _header_int(response, "X-Rate-Limit-Requests-Quota")
        left = _header_int(response, "X-Rate-Limit-Requests-Left")
        window_ms = _header_int(response, "X-Rate-Limit-Time-Window-Ms")
        reset_ms = _header_int(response, "X-Rate-Limit-Time-Reset-Ms")
        if quota is not None:
            self.stats.last_quota = quota
        if left is not None:
            self.stats.last_requests_left = left
        if quota and left is not None:
            metrics.set_bigcommerce_quota_used((quota - left) / quota)
        if window_ms is not None:
            self.stats.last_window_ms = window_ms
        window = self._window
        if reset_ms is None:
            self._count_unheaded(window_ms)
            return
        self.stats.last_reset_ms = reset_ms
        ends_at = self._monotonic() + reset_ms / 1000
        span = (window_ms if window_ms else reset_ms) / 1000
        if window.ends_at is None or ends_at > window.ends_at + span / 2:
            # The store started a new window before answering: this request is its first one.
            window.ends_at = ends_at
            window.own_requests = 1
        else:
            window.ends_at = max(window.ends_at, ends_at)
            window.own_requests += 1

    def _count_unheaded(self, window_ms: int | None) -> None:
        """Count an answer without a reset time in a window of Plaudit's own making, so a
        store that says nothing is still paced."""
        window = self._window
        now = self._monotonic()
        if window.ends_at is None or now >= window.ends_at:
            window.ends_at = now + (window_ms or DEFAULT_WINDOW_MS) / 1000
            window.own_requests = 1
        else:
            window.own_requests += 1

    def throttled_delay(self, response: requests.Response, throttled: int) -> float:
        """How long to wait out a 429: until the window resets, or backoff without a reset."""
        reset_ms = _header_int(response, "X-Rate-Limit-Time-Reset-Ms")
        if reset_ms is None:
            return self._backoff_delay(throttled)
        return reset_ms / 1000 + _WINDOW_MARGIN_S

    def backoff(self, path: str, attempt: int, reason: str) -> None:
        delay = self._backoff_delay(attempt)
        self.stats.retries += 1
        log.warning(
            "BigCommerce GET %s failed (%s); retry %d of %d in %.2fs",
            path,
            reason,
            attempt,
            self._max_retries,
            delay,
        )
        self.wait(delay)

    def _backoff_delay(self, attempt: int) -> float:
        ceiling = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + self._rng.random() / 2)

    def wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.stats.waited_seconds += seconds
        self._sleep(seconds)


def _header_int(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None

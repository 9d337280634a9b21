"""Slack's per-method rate limits that Plaudit keeps to itself, per workspace: chat.update
(Tier 3) and conversations.history (Tier 3, or one a minute in the limited mode)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError

log = logging.getLogger("plaudit.outbox")

# conversations.history of a commercially distributed app outside the Slack Marketplace,
# installed since 2025-05-29: one request a minute, and at most 15 messages (also the
# default). Slack's rate-limit page and its changelog of that day; internal apps and older
# installations keep Tier 3 and 100 messages a page.
LIMITED_HISTORY_PAGE = 15
HISTORY_PAGE = 100


class Budget:
    """At most `calls` in any `period` seconds per workspace, and none before a pause Slack
    asked for (a 429's Retry-After) is over. Kept a little under Slack's own number: calls
    are counted here when they leave and by Slack when they arrive."""

    def __init__(
        self, calls: int, period: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.calls = calls
        self.period = period
        self._clock = clock
        self._sent: dict[str | None, list[float]] = {}
        self._paused_until: dict[str | None, float] = {}

    def take(self, team: str | None) -> float:
        """0 when a call may go now (and it is counted), else the seconds until one may."""
        now = self._clock()
        paused = self._paused_until.get(team, 0.0) - now
        if paused > 0:
            return paused
        recent = [t for t in self._sent.get(team, []) if t > now - self.period]
        self._sent[team] = recent
        if len(recent) >= self.calls:
            return max(recent[0] + self.period - now, 0.001)
        recent.append(now)
        return 0.0

    def pause(self, team: str | None, seconds: float) -> None:
        """Slack said wait: nothing goes for `seconds`."""
        until = self._clock() + seconds
        self._paused_until[team] = max(self._paused_until.get(team, 0.0), until)


def retry_after(exc: SlackApiError) -> float:
    """The seconds a 429 from Slack asks to wait (either case of the header name; 30 when
    it names none)."""
    headers = exc.response.headers
    return float(headers.get("Retry-After") or headers.get("retry-after") or 30)


@dataclass
class SlackLimits:
    """The budgets of the methods Slack limits per workspace and per method.

    `limited`: whether conversations.history is in the limited mode. None learns it per
    workspace from Slack's answers (a 429, or a page cut to 15 messages); installs into
    several workspaces are distributed apps and start limited."""

    update: Budget = field(default_factory=lambda: Budget(45, 60.0))  # Tier 3: 50+ a minute
    history: Budget = field(default_factory=lambda: Budget(45, 60.0))  # Tier 3
    limited_history: Budget = field(default_factory=lambda: Budget(1, 60.0))
    limited: bool | None = None
    _learned: set[str | None] = field(default_factory=set)

    def history_limited(self, team: str | None) -> bool:
        return bool(self.limited) or team in self._learned

    def history_budget(self, team: str | None) -> tuple[Budget, int]:
        """The budget conversations.history spends in `team`, and the page to ask for."""
        if self.history_limited(team):
            return self.limited_history, LIMITED_HISTORY_PAGE
        return self.history, HISTORY_PAGE

    def learn_limited(self, team: str | None) -> None:
        """Slack's answer shows `team`'s installation is in the limited mode."""
        if self.limited is None and team not in self._learned:
            log.warning(
                "Slack limits conversations.history in workspace %s to one request a minute "
                "(an app outside the Slack Marketplace); keeping to that",
                team,
            )
            self._learned.add(team)

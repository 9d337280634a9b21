"""The `sprints:`, `milestones:` and `bigcommerce:` sections: boards and where points come from."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from bot.config.fields import _ID, _channel_id, _checked_duration, _duration, _Strict
from bot.config.surveys import ScheduleConfig
from handlers.kpis import kind_of
from handlers.milestones import Milestone, Threshold
from handlers.sprints import SprintCalendar, SprintRange


class SprintRangeConfig(_Strict):
    id: str = Field(min_length=1, max_length=32)
    start: date
    end: date

    @model_validator(mode="after")
    def _order(self) -> SprintRangeConfig:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class SprintsConfig(_Strict):
    timezone: str = "UTC"
    fiscal_start_month: int = Field(1, ge=1, le=12)
    ranges: list[SprintRangeConfig] = Field(default_factory=list)  # instead of quarters
    channel: str | None = None  # where boards are posted; default: recognition.channel
    update: ScheduleConfig | None = None  # mid-sprint update, e.g. {cron: "0 9 * * mon", ...}
    top: int = Field(10, ge=1, le=50)
    exclude: list[str] = Field(default_factory=list)  # emails left off the boards

    _channel = field_validator("channel")(classmethod(lambda cls, v: _channel_id(v)))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("ranges")
    @classmethod
    def _ranges(cls, ranges: list[SprintRangeConfig]) -> list[SprintRangeConfig]:
        ordered = sorted(ranges, key=lambda r: r.start)
        for before, after in itertools.pairwise(ordered):
            if after.start <= before.end:
                raise ValueError(f"sprints {before.id} and {after.id} overlap")
        if len({r.id for r in ranges}) != len(ranges):
            raise ValueError("sprint ids must be unique")
        return ranges

    @field_validator("update")
    @classmethod
    def _update(cls, value: ScheduleConfig | None) -> ScheduleConfig | None:
        if value is not None and value.cron is None:
            raise ValueError("the mid-sprint update takes a cron schedule with a timezone")
        return value

    def calendar(self) -> SprintCalendar:
        return SprintCalendar(
            timezone=self.timezone,
            fiscal_start_month=self.fiscal_start_month,
            ranges=tuple(SprintRange(r.id, r.start, r.end) for r in self.ranges),
        )


class MilestoneConfig(_Strict):
    id: str
    title: str = Field(min_length=1, max_length=150)
    source: Literal["promotion", "coupon", "orders", "channel", "kpi"]
    match: dict[Literal["id", "name", "kind", "team"], int | str] = Field(default_factory=dict)
    channel_id: int | None = None
    window: dict[Literal["start", "end"], datetime] = Field(default_factory=dict)
    threshold: (
        Literal["live", "each"]
        | dict[Literal["redemptions", "orders", "revenue", "events", "value"], Decimal]
    ) = "live"
    award: dict[Literal["points", "per_revenue", "cap", "team", "members"], Any]

    @model_validator(mode="after")
    def _check(self) -> MilestoneConfig:
        if not _ID.match(self.id):
            raise ValueError(f"milestone id {self.id!r} must be lower-case letters, digits, - or _")
        kind = self._kind()
        if isinstance(self.threshold, dict) and len(self.threshold) != 1:
            raise ValueError("threshold takes one of redemptions, orders, revenue, events or value")
        allowed = {
            "promotion": {"live", "redemptions"},
            "coupon": {"live", "redemptions"},
            "orders": {"orders", "revenue"},
            "channel": {"live"},
            "kpi": {"each", "events", "value"},
        }[self.source]
        if kind not in allowed:
            raise ValueError(
                f"a {self.source} milestone takes threshold {' or '.join(sorted(allowed))}"
            )
        if self.source == "orders" and self.match:
            raise ValueError("orders milestones match by channel_id and window, not match")
        if (self.source == "kpi") != ("kind" in self.match):
            raise ValueError("match.kind is for kpi milestones, and every kpi milestone needs it")
        if "team" in self.match and self.source != "kpi":
            raise ValueError("match.team is for kpi milestones")
        if self.source == "kpi" and "id" in self.match:
            raise ValueError("kpi milestones match by kind, team and name, not id")
        if self.source == "kpi" and "start" not in self.window:
            # Else importing years of history would award every past event in this sprint.
            raise ValueError("kpi milestones need window.start: events before it do not count")
        if self.source != "orders" and self.channel_id is not None:
            raise ValueError("channel_id is for orders milestones")
        for moment in self.window.values():
            if moment.tzinfo is None:
                raise ValueError("window times need a timezone, e.g. 2026-10-01T00:00:00Z")
        points = self.award.get("points")
        if not isinstance(points, int) or points < 0:
            raise ValueError("award.points must be a whole number of points, 0 or more")
        if "per_revenue" in self.award and kind != "revenue":
            raise ValueError("award.per_revenue is for revenue thresholds")
        if not self.award.get("team") and not self.award.get("members"):
            raise ValueError("award needs a team or members (emails)")
        return self

    def _kind(self) -> Threshold:
        kind = self.threshold if isinstance(self.threshold, str) else next(iter(self.threshold))
        # KPI milestones count each matching event once unless told otherwise.
        return "each" if self.source == "kpi" and kind == "live" else kind

    def milestone(self) -> Milestone:
        kind = self._kind()
        at_least = Decimal(0) if isinstance(self.threshold, str) else self.threshold[kind]  # type: ignore[index]
        name = self.match.get("name")
        ident = self.match.get("id")
        per = self.award.get("per_revenue")
        cap = self.award.get("cap")
        return Milestone(
            id=self.id,
            title=self.title,
            source=self.source,
            threshold=kind,
            at_least=Decimal(at_least),
            match_id=int(ident) if ident is not None else None,
            match_name=str(name) if name is not None else None,
            channel_id=self.channel_id,
            window_start=self.window.get("start"),
            window_end=self.window.get("end"),
            points=int(self.award["points"]),
            points_per=Decimal(str(per)) if per is not None else None,
            cap=int(cap) if cap is not None else None,
            team=str(self.award["team"]) if self.award.get("team") else None,
            members=tuple(str(m) for m in self.award.get("members") or ()),
            kind=kind_of(str(self.match["kind"])) if "kind" in self.match else None,
            match_team=str(self.match["team"]) if "team" in self.match else None,
        )


class BigCommerceSettings(_Strict):
    sync_every: str = "15m"
    quota_share: float = Field(0.2, gt=0, le=1)

    _every = field_validator("sync_every")(classmethod(lambda cls, v: _checked_duration(v)))

    @property
    def interval(self) -> timedelta:
        return _duration(self.sync_every)

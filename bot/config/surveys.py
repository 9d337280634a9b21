"""The `surveys:` and `digests:` sections: questions, audiences, schedules on local clocks."""

from __future__ import annotations

from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, field_validator, model_validator

from bot.config.fields import _ID, _LOCAL, _channel_id, _checked_duration, _duration, _Strict
from handlers import surveys as sv
from handlers.digests import DigestSchedule


class QuestionConfig(_Strict):
    id: str
    type: Literal["scale", "enps", "choice", "text"]
    text: str = Field(min_length=1, max_length=300)
    labels: list[str] = Field(default_factory=list)
    options: list[str] = Field(default_factory=list)
    multi: bool = False
    optional: bool = False

    @model_validator(mode="after")
    def _shape(self) -> QuestionConfig:
        if not _ID.match(self.id):
            raise ValueError(f"question id {self.id!r} must be lower-case letters, digits, - or _")
        if self.type == "scale" and len(self.labels) not in (0, 2, 5):
            raise ValueError("a scale question takes 2 labels (low, high) or 5")
        if self.type != "scale" and self.labels:
            raise ValueError("labels are for scale questions")
        if self.type == "choice":
            if not 2 <= len(self.options) <= 20:
                raise ValueError("a choice question needs 2 to 20 options")
            if len(set(self.options)) != len(self.options):
                raise ValueError("options must be unique")
            if any(not o.strip() or len(o) > 75 for o in self.options):
                raise ValueError("each option is 1 to 75 characters")
        elif self.options or self.multi:
            raise ValueError("options and multi are for choice questions")
        return self


class ScheduleConfig(_Strict):
    cron: str | None = None  # five fields: minute hour day month weekday
    timezone: str | None = None
    local: str | None = None  # "Mon 10:00" (weekly) or "10:00" (daily), each person's own time

    @model_validator(mode="after")
    def _one(self) -> ScheduleConfig:
        if (self.cron is None) == (self.local is None):
            raise ValueError("give either cron (with timezone) or local, not both")
        if self.cron is not None:
            if not self.timezone:
                raise ValueError("a cron schedule needs an explicit timezone, e.g. Europe/Berlin")
            try:
                zone = ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown timezone {self.timezone!r}") from exc
            try:
                CronTrigger.from_crontab(self.cron, timezone=zone)
            except ValueError as exc:
                raise ValueError(f"invalid cron expression {self.cron!r}: {exc}") from exc
        elif self.local is not None:
            if self.timezone:
                raise ValueError("a local schedule uses each person's timezone; drop timezone")
            if not _LOCAL.match(self.local.strip()):
                raise ValueError(f"local must look like 'Mon 10:00' or '10:00', not {self.local!r}")
        return self

    def schedule(self) -> sv.Schedule:
        if self.cron is not None:
            return sv.Schedule(cron=self.cron, timezone=self.timezone)
        match = _LOCAL.match((self.local or "").strip())
        assert match is not None
        day = sv.WEEKDAYS.index(match.group(1).lower()[:3]) if match.group(1) else None
        return sv.Schedule(local_day=day, local_time=time(int(match.group(2)), int(match.group(3))))


class AudienceConfig(_Strict):
    teams: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    therapeutic_areas: list[str] = Field(default_factory=list)
    slack_channel: str | None = None

    _channel = field_validator("slack_channel")(classmethod(lambda cls, v: _channel_id(v)))


class RemindersConfig(_Strict):
    after: str = "2d"
    max: int = Field(1, ge=0, le=5)

    _after = field_validator("after")(classmethod(lambda cls, v: _checked_duration(v)))


class SurveyConfig(_Strict):
    id: str
    title: str = Field(min_length=1, max_length=150)
    intro: str = Field("", max_length=1000)
    questions: list[QuestionConfig] = Field(min_length=1, max_length=10)
    audience: AudienceConfig = Field(default_factory=AudienceConfig)
    schedule: ScheduleConfig
    open_for: str = "3d"
    reminders: RemindersConfig | None = None
    anonymous: bool = True
    min_responses: int = Field(5, ge=1, le=1000)
    owners: list[str] = Field(default_factory=list)
    results_channel: str | None = None

    _channel = field_validator("results_channel")(classmethod(lambda cls, v: _channel_id(v)))

    @model_validator(mode="after")
    def _check(self) -> SurveyConfig:
        if not _ID.match(self.id):
            raise ValueError(f"survey id {self.id!r} must be lower-case letters, digits, - or _")
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("question ids must be unique within a survey")
        _duration(self.open_for)
        if (
            self.reminders
            and self.reminders.max
            and (_duration(self.reminders.after) >= _duration(self.open_for))
        ):
            raise ValueError("reminders.after must be shorter than open_for")
        if not self.results_channel and not self.owners:
            raise ValueError("give a results_channel or owners, so the results reach someone")
        return self

    def survey(self) -> sv.Survey:
        reminders = self.reminders
        return sv.Survey(
            id=self.id,
            title=self.title,
            intro=self.intro,
            questions=tuple(
                sv.Question(
                    id=q.id,
                    type=q.type,
                    text=q.text,
                    labels=tuple(q.labels),
                    options=tuple(q.options),
                    multi=q.multi,
                    optional=q.optional,
                )
                for q in self.questions
            ),
            schedule=self.schedule.schedule(),
            audience=sv.Audience(
                teams=tuple(self.audience.teams),
                regions=tuple(self.audience.regions),
                therapeutic_areas=tuple(self.audience.therapeutic_areas),
                slack_channel=self.audience.slack_channel,
            ),
            open_for=_duration(self.open_for),
            remind_after=_duration(reminders.after) if reminders and reminders.max else None,
            max_reminders=reminders.max if reminders else 0,
            anonymous=self.anonymous,
            min_responses=self.min_responses,
            owners=tuple(self.owners),
            results_channel=self.results_channel,
        )


class DigestsConfig(_Strict):
    enabled: bool = True
    local: str = "Mon 09:00"  # on each manager's own clock
    empty: Literal["note", "skip"] = "note"  # a quiet week: a short note, or nothing

    @field_validator("local")
    @classmethod
    def _weekly(cls, value: str) -> str:
        match = _LOCAL.match(value.strip())
        if not match or not match.group(1):
            raise ValueError(f"local must look like 'Mon 09:00', not {value!r}")
        return value

    def schedule(self) -> DigestSchedule:
        match = _LOCAL.match(self.local.strip())
        assert match is not None
        return DigestSchedule(
            weekday=sv.WEEKDAYS.index(match.group(1).lower()[:3]),
            at=time(int(match.group(2)), int(match.group(3))),
            empty=self.empty,
        )

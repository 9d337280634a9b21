"""Organisation settings from `plaudit.yaml`, validated with errors that name file and key."""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from compliance_rules import CATEGORIES, RuleSet, load_rules, pack_path
from handlers import surveys as sv
from handlers.digests import DigestSchedule
from handlers.milestones import Milestone
from handlers.policy import KudosPolicy
from handlers.retention import Retention
from handlers.sprints import SprintCalendar, SprintRange

_VALUE = re.compile(r"^#[a-z0-9][a-z0-9_-]{0,48}$")
_EMOJI = re.compile(r"^[a-z0-9_+\-']{1,64}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,30}$")


def _channel_id(value: str | None) -> str | None:
    if value is not None and not _CHANNEL.match(value):
        raise ValueError("use the channel id (e.g. C0123ABCD), not its name")
    return value


class ConfigError(Exception):
    """`plaudit.yaml` is unreadable or invalid; the message names file, key and problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecognitionConfig(_Strict):
    channel: str | None = None
    values: list[str] = Field(default_factory=lambda: list(KudosPolicy().values))
    require_value: bool = False
    daily_allowance: int = Field(5, ge=1, le=1000)
    reaction_emoji: list[str] = Field(default_factory=lambda: list(KudosPolicy().reaction_emoji))
    max_recipients: int = Field(10, ge=1, le=100)
    min_message_length: int = Field(10, ge=0, le=1000)

    _channel = field_validator("channel")(classmethod(lambda cls, v: _channel_id(v)))

    @field_validator("values")
    @classmethod
    def _values(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _VALUE.match(value):
                raise ValueError(f"{value!r} must look like #kebab-case-value")
        if len({v.lower() for v in values}) != len(values):
            raise ValueError("values must be unique")
        return values

    @field_validator("reaction_emoji")
    @classmethod
    def _emoji(cls, names: list[str]) -> list[str]:
        cleaned = [n.strip(":") for n in names]
        for name in cleaned:
            if not _EMOJI.match(name):
                raise ValueError(f"{name!r} is not an emoji name such as clap")
        return cleaned


class ComplianceConfig(_Strict):
    safety_channel: str | None = None
    safety_webhook: str | None = None  # receives each PV case as JSON (POST)
    safety_email: str | None = None  # receives each PV case by email (PLAUDIT_SMTP_*)
    review_channel: str | None = None
    reviewers: list[str] = Field(default_factory=list)  # Slack user ids or emails
    packs: list[str] = Field(default_factory=lambda: ["default"], min_length=1)
    products: Path | None = None  # the company's product registry; default: the example
    actions: dict[str, Literal["pass", "warn", "block", "hold", "route_pv"]] = Field(
        default_factory=dict
    )

    @field_validator("actions")
    @classmethod
    def _categories(cls, actions: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(actions) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown categories {unknown}; use {', '.join(CATEGORIES)}")
        return actions

    def rules(self, base: Path) -> RuleSet:
        """Load the configured packs; relative paths are relative to plaudit.yaml."""
        packs = [p if "/" in p else str(pack_path(p)) for p in self.packs]
        paths = [Path(p) if Path(p).is_absolute() else base / p for p in packs]
        registry = None
        if self.products is not None:
            registry = self.products if self.products.is_absolute() else base / self.products
        if registry is None:
            return load_rules(*paths, actions=self.actions)
        return load_rules(*paths, registry=registry, actions=self.actions)

    _channel = field_validator("safety_channel", "review_channel")(
        classmethod(lambda cls, v: _channel_id(v))
    )

    @field_validator("safety_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError("must be an email address")
        return value

    @field_validator("safety_webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_LOCAL = re.compile(
    r"^(?:(mon|tue|wed|thu|fri|sat|sun)[a-z]*\s+)?([01]?\d|2[0-3]):([0-5]\d)$", re.I
)


def _duration(value: str) -> timedelta:
    match = _DURATION.match(str(value).strip().lower())
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 90m, 48h, 3d or 1w")
    amount = int(match.group(1))
    if amount <= 0:
        raise ValueError("must be longer than zero")
    return timedelta(**{_UNITS[match.group(2)]: amount})


def _checked_duration(value: str) -> str:
    _duration(value)
    return value


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
    source: Literal["promotion", "coupon", "orders", "channel"]
    match: dict[Literal["id", "name"], int | str] = Field(default_factory=dict)
    channel_id: int | None = None
    window: dict[Literal["start", "end"], datetime] = Field(default_factory=dict)
    threshold: Literal["live"] | dict[Literal["redemptions", "orders", "revenue"], Decimal] = "live"
    award: dict[Literal["points", "per_revenue", "cap", "team", "members"], Any]

    @model_validator(mode="after")
    def _check(self) -> MilestoneConfig:
        if not _ID.match(self.id):
            raise ValueError(f"milestone id {self.id!r} must be lower-case letters, digits, - or _")
        kind = self.threshold if isinstance(self.threshold, str) else next(iter(self.threshold))
        if isinstance(self.threshold, dict) and len(self.threshold) != 1:
            raise ValueError("threshold takes one of redemptions, orders or revenue")
        allowed = {
            "promotion": {"live", "redemptions"},
            "coupon": {"live", "redemptions"},
            "orders": {"orders", "revenue"},
            "channel": {"live"},
        }[self.source]
        if kind not in allowed:
            raise ValueError(
                f"a {self.source} milestone takes threshold {' or '.join(sorted(allowed))}"
            )
        if self.source == "orders" and self.match:
            raise ValueError("orders milestones match by channel_id and window, not match")
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

    def milestone(self) -> Milestone:
        kind = self.threshold if isinstance(self.threshold, str) else next(iter(self.threshold))
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
        )


class BigCommerceSettings(_Strict):
    sync_every: str = "15m"
    quota_share: float = Field(0.2, gt=0, le=1)

    _every = field_validator("sync_every")(classmethod(lambda cls, v: _checked_duration(v)))

    @property
    def interval(self) -> timedelta:
        return _duration(self.sync_every)


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


class RetentionConfig(_Strict):
    """Days to keep texts the gate stopped, and PV cases' links to chat; unset keeps them."""

    stopped_text_days: int | None = Field(None, ge=1, le=36_500)
    pv_link_days: int | None = Field(None, ge=1, le=36_500)

    def retention(self) -> Retention:
        return Retention(self.stopped_text_days, self.pv_link_days)


_TEAMS_CHANNEL = re.compile(r"^19:[A-Za-z0-9_.@;=-]{1,60}$")
TEAMS_REACTIONS = ("like", "heart", "laugh", "surprised", "sad", "angry")


def _teams_channel(value: str | None) -> str | None:
    if value is not None and not _TEAMS_CHANNEL.match(value):
        raise ValueError(
            "use the Teams channel's conversation id (19:...@thread.tacv2, from "
            "'Get link to channel'), not its name"
        )
    return value


class TeamsConfig(_Strict):
    """Where Plaudit writes in Microsoft Teams."""

    recognition_channel: str | None = None  # public cards for kudos given in a 1:1 chat
    review_channel: str | None = None
    safety_channel: str | None = None
    reactions: list[str] = Field(default_factory=lambda: ["like", "heart", "laugh", "surprised"])

    _channels = field_validator("recognition_channel", "review_channel", "safety_channel")(
        classmethod(lambda cls, v: _teams_channel(v))
    )

    @field_validator("reactions")
    @classmethod
    def _reactions(cls, value: list[str]) -> list[str]:
        unknown = [r for r in value if r not in TEAMS_REACTIONS]
        if unknown:
            raise ValueError(f"unknown Teams reactions {unknown}; use {', '.join(TEAMS_REACTIONS)}")
        return value


class DashboardRoles(_Strict):
    """Who may see the dashboard's restricted pages, by email (roster roles add to these;
    reviewers are `compliance.reviewers`)."""

    admins: list[str] = Field(default_factory=list)
    safety: list[str] = Field(default_factory=list)

    @field_validator("admins", "safety")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for email in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise ValueError(f"{email!r} is not an email address")
        return [e.lower() for e in value]


class OrgConfig(_Strict):
    recognition: RecognitionConfig = Field(default_factory=RecognitionConfig)
    compliance: ComplianceConfig = Field(default_factory=ComplianceConfig)
    surveys: list[SurveyConfig] = Field(default_factory=list)
    sprints: SprintsConfig = Field(default_factory=SprintsConfig)
    milestones: list[MilestoneConfig] = Field(default_factory=list)
    bigcommerce: BigCommerceSettings = Field(default_factory=BigCommerceSettings)
    digests: DigestsConfig = Field(default_factory=DigestsConfig)
    teams: TeamsConfig = Field(default_factory=TeamsConfig)
    dashboard: DashboardRoles = Field(default_factory=DashboardRoles)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)

    @field_validator("milestones")
    @classmethod
    def _unique_milestones(cls, value: list[MilestoneConfig]) -> list[MilestoneConfig]:
        ids = [m.id for m in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"milestone ids must be unique: {', '.join(dupes)}")
        return value

    def milestone_definitions(self) -> tuple[Milestone, ...]:
        return tuple(m.milestone() for m in self.milestones)

    @field_validator("surveys")
    @classmethod
    def _unique_surveys(cls, value: list[SurveyConfig]) -> list[SurveyConfig]:
        ids = [s.id for s in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"survey ids must be unique: {', '.join(dupes)}")
        return value

    def survey_definitions(self) -> tuple[sv.Survey, ...]:
        return tuple(s.survey() for s in self.surveys)

    def policy(self) -> KudosPolicy:
        r = self.recognition
        return KudosPolicy(
            values=tuple(r.values),
            require_value=r.require_value,
            daily_allowance=r.daily_allowance,
            reaction_emoji=tuple(r.reaction_emoji),
            max_recipients=r.max_recipients,
            min_message_length=r.min_message_length,
            recognition_channel=r.channel,
            safety_channel=self.compliance.safety_channel,
            safety_webhook=self.compliance.safety_webhook,
            safety_email=self.compliance.safety_email,
            review_channel=self.compliance.review_channel,
            reviewers=tuple(self.compliance.reviewers),
            sprints=self.sprints.calendar(),
            teams_recognition_channel=self.teams.recognition_channel,
            teams_review_channel=self.teams.review_channel,
            teams_safety_channel=self.teams.safety_channel,
            teams_reactions=tuple(self.teams.reactions),
        )


def load(path: Path, *, required: bool = False) -> OrgConfig:
    """Read and validate `path`; a missing optional file means the defaults."""
    if not path.exists():
        if required:
            raise ConfigError(f"{path}: file not found")
        return OrgConfig()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: {where}invalid YAML: {problem}") from exc
    if raw is None:
        return OrgConfig()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    try:
        return OrgConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(f"{path}: {key}: {message}")
        raise ConfigError("\n".join(problems)) from exc

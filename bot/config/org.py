"""The whole `plaudit.yaml`: its sections, Teams channels, dashboard roles and retention."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from bot.config.fields import _Strict
from bot.config.recognition import ComplianceConfig, RecognitionConfig
from bot.config.rollout import RolloutConfig
from bot.config.sprints import BigCommerceSettings, MilestoneConfig, SprintsConfig
from bot.config.surveys import DigestsConfig, SurveyConfig
from handlers import surveys as sv
from handlers.milestones import Milestone
from handlers.policy import KudosPolicy
from handlers.retention import OUTBOX_DAYS, Retention


class RetentionConfig(_Strict):
    """Days to keep texts the gate stopped, PV cases' links to chat and PV cases' original
    texts (unset keeps them), and delivered or given-up outbox rows (unset: 30 days; null
    keeps them)."""

    stopped_text_days: int | None = Field(None, ge=1, le=36_500)
    pv_link_days: int | None = Field(None, ge=1, le=36_500)
    pv_text_days: int | None = Field(None, ge=1, le=36_500)
    outbox_days: int | None = Field(OUTBOX_DAYS, ge=1, le=36_500)

    def retention(self) -> Retention:
        return Retention(
            self.stopped_text_days, self.pv_link_days, self.pv_text_days, self.outbox_days
        )


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
    reviewers are `compliance.reviewers`), and how much of the leaderboard members see:
    `members_see_top: N` shows a viewer who is only a member the first N places of each
    board and their own row (0, the default: the whole board)."""

    admins: list[str] = Field(default_factory=list)
    safety: list[str] = Field(default_factory=list)
    members_see_top: int = Field(0, ge=0, le=1000)

    @field_validator("admins", "safety")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for email in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise ValueError(f"{email!r} is not an email address")
        return [e.lower() for e in value]


class OrgConfig(_Strict):
    # The language of channel posts, and of what Plaudit writes to someone whose chat
    # platform has not told it theirs (a person's own Slack or Teams language wins).
    language: Literal["en", "de", "fr", "es", "it", "ja"] = "en"
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
    rollout: RolloutConfig | None = None  # pilot cohorts; absent: Plaudit is on for everyone

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
            notify_manager=r.notify_manager,
            allow_guests=r.allow_guests,
            retract_minutes=r.retract_minutes,
            recognition_channel=r.channel,
            safety_channel=self.compliance.safety_channel,
            safety_webhook=self.compliance.safety_webhook,
            safety_email=self.compliance.safety_email,
            review_channel=self.compliance.review_channel,
            reviewers=tuple(self.compliance.reviewers),
            quiet_periods=tuple(q.period() for q in self.compliance.quiet_periods),
            sprints=self.sprints.calendar(),
            teams_recognition_channel=self.teams.recognition_channel,
            teams_review_channel=self.teams.review_channel,
            teams_safety_channel=self.teams.safety_channel,
            teams_reactions=tuple(self.teams.reactions),
            rollout=self.rollout.rollout() if self.rollout else None,
        )

"""The tables: members, recognitions, outbox, inbound dedupe keys and the audit trail."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

# Named constraints keep SQLite batch migrations and PostgreSQL in step.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Member(SQLModel, table=True):
    """One person, across Slack and Teams."""

    __table_args__ = (UniqueConstraint("slack_team_id", "slack_user_id", name="uq_member_slack"),)

    id: int | None = Field(default=None, primary_key=True)
    slack_team_id: str | None = Field(default=None, max_length=32)
    slack_user_id: str | None = Field(default=None, max_length=32, index=True)
    teams_aad_id: str | None = Field(default=None, max_length=64, unique=True)
    email: str | None = Field(default=None, max_length=320, unique=True)
    display_name: str = Field(max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    is_bot: bool = False
    active: bool = True
    manager_id: int | None = Field(default=None, foreign_key="member.id")
    team: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=120)
    therapeutic_area: str | None = Field(default=None, max_length=120)
    roles: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Recognition(SQLModel, table=True):
    """One kudos: a giver, a message, value tags, and a point for each recipient."""

    __table_args__ = (Index("ix_recognition_giver_day", "giver_id", "giver_local_date"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=255, unique=True)
    giver_id: int = Field(foreign_key="member.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    text_sha256: str = Field(max_length=64)
    value_tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=16)  # command | modal | reaction | cli
    platform: str = Field(max_length=16)  # slack | teams | cli
    workspace: str | None = Field(default=None, max_length=64)  # Slack team, Teams tenant
    channel_id: str | None = Field(default=None, max_length=64)
    message_ref: str | None = Field(default=None, max_length=64)  # reacted message ts
    permalink: str | None = Field(default=None, max_length=500)
    reactions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    outcome: str = Field(max_length=16)  # pass | warn | block | hold | route_pv
    findings: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    giver_local_date: date
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RecognitionRecipient(SQLModel, table=True):
    """A recipient of a recognition; each row is one point."""

    __tablename__ = "recognition_recipient"
    __table_args__ = (UniqueConstraint("recognition_id", "member_id", name="uq_recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    recognition_id: int = Field(foreign_key="recognition.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)


class Outbox(SQLModel, table=True):
    """A message the bot owes someone, written with the change that caused it."""

    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_message_ref", "message_ref"),
        Index("ix_outbox_channel_order", "platform", "channel", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)
    platform: str = Field(max_length=16)
    workspace: str | None = Field(default=None, max_length=64)  # Slack team, Teams tenant
    channel: str = Field(max_length=64)  # channel id, or a user id for a DM
    kind: str = Field(max_length=16)  # post | dm | ephemeral
    user: str | None = Field(default=None, max_length=64)  # ephemeral target
    template: str = Field(max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending | delivered | dead
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    message_ref: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InboundEvent(SQLModel, table=True):
    """A delivery already handled; its key makes retries and duplicates harmless."""

    __tablename__ = "inbound_event"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)
    kind: str = Field(max_length=64)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    """An append-only, hash-chained record of a decision."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=255)
    action: str = Field(max_length=64)
    subject: str = Field(max_length=255)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64, unique=True)


class Review(SQLModel, table=True):
    """A held recognition waiting for, or decided by, a compliance reviewer."""

    id: int | None = Field(default=None, primary_key=True)
    recognition_id: int = Field(foreign_key="recognition.id", unique=True)
    requested_by: str = Field(max_length=255)  # member:ID, or rules:ID,ID when the gate held it
    status: str = Field(default="pending", max_length=16)  # pending | approved | rejected
    decided_by: str | None = Field(default=None, max_length=255)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PvCase(SQLModel, table=True):
    """A possible adverse event, opened the moment the company became aware of it."""

    __tablename__ = "pv_case"

    id: int | None = Field(default=None, primary_key=True)
    recognition_id: int | None = Field(default=None, foreign_key="recognition.id", unique=True)
    source: str = Field(max_length=32)  # kudos | survey | import
    reporter_member_id: int | None = Field(default=None, foreign_key="member.id")
    reporter: str = Field(max_length=255)  # a name and email, or "anonymous"
    aware_at: datetime = Field(sa_type=UTCDateTime)  # day 0 for regulatory clocks
    text: str = Field(sa_column=Column(Text, nullable=False))  # what the safety team needs
    rules: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="open", max_length=16)  # open | closed


class SurveyRound(SQLModel, table=True):
    """One run of a pulse survey; (survey, period) is unique, so a round opens once."""

    __tablename__ = "survey_round"
    __table_args__ = (
        UniqueConstraint("survey_id", "period", name="uq_survey_round_period"),
        UniqueConstraint("survey_id", "number", name="uq_survey_round_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    survey_id: str = Field(max_length=64, index=True)
    period: str = Field(max_length=64)  # the schedule's slot: a firing time, a week, a date
    number: int  # 1, 2, 3 ... per survey
    definition: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    anonymous: bool
    opened_by: str = Field(max_length=255)  # schedule | member:ID | cli
    opened_at: datetime = Field(sa_type=UTCDateTime)
    closes_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default="open", max_length=16, index=True)  # open | closed
    # Keys the respondent tokens of an anonymous round; erased at close, after which no
    # answer can be linked back to a person, even with the whole database.
    salt: str | None = Field(default=None, max_length=64)


class SurveyInvite(SQLModel, table=True):
    """Who a round goes to, when their copy is due, and whether they took part."""

    __tablename__ = "survey_invite"
    __table_args__ = (
        UniqueConstraint("round_id", "member_id", name="uq_survey_invite_member"),
        Index("ix_survey_invite_due", "sent_at", "send_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="survey_round.id")
    member_id: int = Field(foreign_key="member.id", index=True)
    send_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminders_sent: int = 0
    last_reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    responded: bool = False


class SurveyAnswer(SQLModel, table=True):
    """One answer to one question in one round: upserted, so a changed mind replaces it.

    For an anonymous round `respondent` is a keyed hash and `member_id` is empty; only the
    team and region are kept, for breakdowns that are shown above a minimum group size.
    """

    __tablename__ = "survey_answer"
    __table_args__ = (
        UniqueConstraint("round_id", "respondent", "question_id", name="uq_survey_answer"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="survey_round.id", index=True)
    respondent: str = Field(max_length=64)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    question_id: str = Field(max_length=64)
    score: int | None = None
    choices: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    team: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=120)


class LeaderboardTotal(SQLModel, table=True):
    """Points per member per sprint (and per value tag; '' is all), kept as kudos and
    milestones change, so a board reads the top rows of an index instead of every
    recognition. `points` is `received + milestone` (milestones only on the '' rows)."""

    __tablename__ = "leaderboard_total"
    __table_args__ = (
        UniqueConstraint("sprint", "value_tag", "member_id", name="uq_leaderboard_total"),
        Index("ix_leaderboard_total_points", "sprint", "value_tag", "points"),
        Index("ix_leaderboard_total_given", "sprint", "value_tag", "given"),
        # A filtered board (one team) may be cheaper from the members' side.
        Index("ix_leaderboard_total_member", "member_id", "sprint", "value_tag"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sprint: str = Field(max_length=32)
    value_tag: str = Field(default="", max_length=64)
    member_id: int = Field(foreign_key="member.id")
    received: int = 0
    given: int = 0
    milestone: int = 0
    points: int = 0


class MilestoneAward(SQLModel, table=True):
    """A campaign milestone reached: awarded once (unique key), in the sprint it was seen."""

    __tablename__ = "milestone_award"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)  # milestone id, or id:object for patterns
    milestone_id: str = Field(max_length=64, index=True)
    sprint: str = Field(max_length=32, index=True)
    title: str = Field(max_length=200)
    points: int
    team: str | None = Field(default=None, max_length=120)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    awarded_at: datetime = Field(sa_type=UTCDateTime)


class MilestoneShare(SQLModel, table=True):
    """A member's whole-point share of an award (shares add up to the award)."""

    __tablename__ = "milestone_share"
    __table_args__ = (UniqueConstraint("award_id", "member_id", name="uq_milestone_share"),)

    id: int | None = Field(default=None, primary_key=True)
    award_id: int = Field(foreign_key="milestone_award.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    sprint: str = Field(max_length=32, index=True)
    points: int


class SprintSnapshot(SQLModel, table=True):
    """A closed sprint's board, frozen with the rules in force and a hash over both."""

    __tablename__ = "sprint_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    sprint: str = Field(max_length=32, unique=True)
    closed_at: datetime = Field(sa_type=UTCDateTime)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    sha256: str = Field(max_length=64)


class ScheduledRun(SQLModel, table=True):
    """A scheduled job's run for one period: unique, so a second firing does nothing."""

    __tablename__ = "scheduled_run"
    __table_args__ = (UniqueConstraint("job", "period", name="uq_scheduled_run"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    period: str = Field(max_length=64)
    ran_at: datetime = Field(sa_type=UTCDateTime)


class SyncState(SQLModel, table=True):
    """Cursors and last results of external syncs (e.g. the BigCommerce orders cursor)."""

    __tablename__ = "sync_state"

    key: str = Field(primary_key=True, max_length=64)
    value: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_type=UTCDateTime)


class BcPromotion(SQLModel, table=True):
    """The local copy of a BigCommerce promotion, as far as milestones need it."""

    __tablename__ = "bc_promotion"

    id: int = Field(primary_key=True)
    name: str = Field(max_length=255)
    status: str = Field(max_length=32)
    start_date: datetime | None = Field(default=None, sa_type=UTCDateTime)
    end_date: datetime | None = Field(default=None, sa_type=UTCDateTime)
    current_uses: int = 0
    max_uses: int | None = None
    fetched_at: datetime = Field(sa_type=UTCDateTime)


class BcCoupon(SQLModel, table=True):
    __tablename__ = "bc_coupon"

    id: int = Field(primary_key=True)
    name: str = Field(max_length=255)
    code: str = Field(max_length=100)
    enabled: bool
    num_uses: int = 0
    max_uses: int | None = None
    date_created: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fetched_at: datetime = Field(sa_type=UTCDateTime)


class BcChannel(SQLModel, table=True):
    __tablename__ = "bc_channel"

    id: int = Field(primary_key=True)
    name: str = Field(max_length=255)
    type: str = Field(max_length=32)
    platform: str = Field(max_length=64)
    status: str = Field(max_length=32)
    date_created: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fetched_at: datetime = Field(sa_type=UTCDateTime)


class BcOrder(SQLModel, table=True):
    """An order, as orders milestones count them: when, where, how much, and whether it
    counts (statuses 0, 4, 5, 6 do not)."""

    __tablename__ = "bc_order"
    __table_args__ = (Index("ix_bc_order_window", "counts", "date_created", "channel_id"),)

    id: int = Field(primary_key=True)
    status_id: int
    counts: bool
    date_created: datetime = Field(sa_type=UTCDateTime)
    date_modified: datetime = Field(sa_type=UTCDateTime)
    total_cents: int  # total_inc_tax in the store's currency, in cents
    channel_id: int = 1


class TeamsConversation(SQLModel, table=True):
    """A Teams conversation the bot has seen, with the reference that lets it write there
    later (a personal chat, a channel thread or a group chat)."""

    __tablename__ = "teams_conversation"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(max_length=400, unique=True)
    kind: str = Field(max_length=16)  # personal | channel | groupChat
    tenant_id: str | None = Field(default=None, max_length=64)
    service_url: str = Field(max_length=500)
    # The other party of a personal chat: proactive DMs to this AAD object id go here.
    aad_id: str | None = Field(default=None, max_length=64, index=True)
    reference: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TeamsUser(SQLModel, table=True):
    """A Teams account as the connector described it: its conversation-scoped id (29:...),
    AAD object id, name and email, so a mention resolves without asking again."""

    __tablename__ = "teams_user"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=255, unique=True)
    aad_id: str = Field(max_length=64, index=True)
    tenant_id: str | None = Field(default=None, max_length=64)
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# -- Slack OAuth (multi-workspace installs) ---------------------------------------------------
# slack_sdk's SQLAlchemy installation and state stores read and write these three tables; the
# columns are theirs, column for column (a test compares them), but the schema is created by
# our migrations like every other table. Times are naive UTC, as the stores write them.

slack_installations = Table(
    "slack_installations",
    SQLModel.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False),
    Index(
        "slack_installations_idx",
        "client_id",
        "enterprise_id",
        "team_id",
        "user_id",
        "installed_at",
    ),
)

slack_bots = Table(
    "slack_bots",
    SQLModel.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("installed_at", DateTime, nullable=False),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    "slack_oauth_states",
    SQLModel.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)

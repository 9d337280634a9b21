"""The tables, one module per aggregate; importing this package registers every table on
`SQLModel.metadata` (Alembic and the migration check rely on it)."""

# The naming convention is set before any table is defined.
import storage.models.base  # noqa: F401
from storage.models.analytics import (
    DayRollup,
    KeptFigures,
    MemberRollup,
    PairRollup,
    RollupPeriod,
    ShareRollup,
)
from storage.models.audit import AuditCheckpoint, AuditEntry
from storage.models.base import utcnow
from storage.models.baseline import BaselineFigure
from storage.models.boards import LeaderboardTotal, SprintSnapshot
from storage.models.commerce import (
    BcChannel,
    BcCoupon,
    BcOrder,
    BcPromotion,
    MilestoneAward,
    MilestoneShare,
)
from storage.models.jobs import ScheduledRun, SyncState
from storage.models.kpi import KpiEvent
from storage.models.outbox import InboundEvent, Outbox
from storage.models.people import Member
from storage.models.recognition import PvCase, Recognition, RecognitionRecipient, Review
from storage.models.slack_oauth import slack_bots, slack_installations, slack_oauth_states
from storage.models.surveys import SurveyAnswer, SurveyInvite, SurveyRound
from storage.models.teams import TeamsConversation, TeamsUser

__all__ = [
    "AuditCheckpoint",
    "AuditEntry",
    "BaselineFigure",
    "BcChannel",
    "BcCoupon",
    "BcOrder",
    "BcPromotion",
    "DayRollup",
    "InboundEvent",
    "KeptFigures",
    "KpiEvent",
    "LeaderboardTotal",
    "Member",
    "MemberRollup",
    "MilestoneAward",
    "MilestoneShare",
    "Outbox",
    "PairRollup",
    "PvCase",
    "Recognition",
    "RecognitionRecipient",
    "Review",
    "RollupPeriod",
    "ScheduledRun",
    "ShareRollup",
    "SprintSnapshot",
    "SurveyAnswer",
    "SurveyInvite",
    "SurveyRound",
    "SyncState",
    "TeamsConversation",
    "TeamsUser",
    "slack_bots",
    "slack_installations",
    "slack_oauth_states",
    "utcnow",
]

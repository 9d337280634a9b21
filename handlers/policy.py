"""Organisation rules for giving kudos, as read from `plaudit.yaml`."""

from __future__ import annotations

from dataclasses import dataclass, field

from compliance_rules.quiet import QuietPeriod
from handlers.rollout import Rollout
from handlers.sprints import SprintCalendar
from storage.vault import Vault


@dataclass(frozen=True)
class KudosPolicy:
    values: tuple[str, ...] = (
        "#patient-enrollment",
        "#site-activation",
        "#digital-content",
        "#compliance-excellence",
        "#collaboration",
    )
    require_value: bool = False
    daily_allowance: int = 5
    reaction_emoji: tuple[str, ...] = ("clap", "raised_hands", "tada")
    max_recipients: int = 10
    min_message_length: int = 10
    notify_manager: bool = False  # a recipient's manager is told at once, not only weekly
    allow_guests: bool = False  # guests and other organisations' people may give and get kudos
    retract_minutes: int = 60  # a giver may take a kudos back this long after giving it
    recognition_channel: str | None = None
    safety_channel: str | None = None
    safety_webhook: str | None = None  # URL that receives each PV case as JSON
    safety_email: str | None = None  # mailbox that receives each PV case
    review_channel: str | None = None
    reviewers: tuple[str, ...] = ()  # Slack user ids or emails allowed to approve and reject
    # Date ranges in which kudos naming listed products, or financial results, are held.
    quiet_periods: tuple[QuietPeriod, ...] = ()
    sprints: SprintCalendar = field(default_factory=SprintCalendar)
    # Microsoft Teams: conversation ids of channels, and the reactions that second a kudos.
    teams_recognition_channel: str | None = None
    teams_review_channel: str | None = None
    teams_safety_channel: str | None = None
    teams_reactions: tuple[str, ...] = ("like", "heart", "laugh", "surprised")
    # Pilot cohorts (`rollout:`): who Plaudit is on for; None: everyone.
    rollout: Rollout | None = None
    # The key a PV case's original text is sealed with (PLAUDIT_PV_KEY); without one a
    # case keeps its text redacted instead, and serving chat is refused.
    pv_vault: Vault | None = field(default=None, repr=False, compare=False)

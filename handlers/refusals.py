"""Why a kudos is refused before anything is stored: who it is for, who gives it, what it
says; each refusal tells the giver what to do instead."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.events import KudosRequested
from handlers.policy import KudosPolicy

NOT_YOURSELF = "Kudos are for colleagues: you can't give them to yourself."


@dataclass(frozen=True)
class Refused:
    """No kudos was recorded; `message` tells the giver why and what to do (and, when the
    text may describe an adverse event, that it went to drug safety all the same)."""

    reason: str
    message: str
    to_drug_safety: bool = False


def validate(event: KudosRequested, policy: KudosPolicy) -> Refused | None:
    if event.non_people:
        return Refused(
            "not_people",
            "Kudos go to people, not to channels or groups "
            f"({', '.join(event.non_people)}). Mention each colleague with @.",
        )
    if not event.recipients:
        return Refused(
            "no_recipients",
            "Who is it for? Try `/kudos @colleague for the site activation email "
            f"{policy.values[0] if policy.values else '#value'}`.",
        )
    unknown = [p.user_id for p in event.recipients if not p.exists or p.deleted]
    if unknown:
        return Refused("unknown_user", f"I can't find {', '.join(unknown)} in this workspace.")
    bots = [p.display_name for p in event.recipients if p.is_bot]
    if bots:
        return Refused("bot", f"Bots don't need kudos ({', '.join(bots)}); thank a human instead.")
    if event.giver.is_bot or not event.giver.exists:
        return Refused("giver", "Only members of this workspace can give kudos.")
    if not policy.allow_guests:
        refusal = _guests(event)
        if refusal:
            return refusal
    if any(p.user_id == event.giver.user_id for p in event.recipients):
        return Refused("self", NOT_YOURSELF)
    if len({p.user_id for p in event.recipients}) > policy.max_recipients:
        return Refused(
            "too_many",
            f"One kudos can go to at most {policy.max_recipients} people; split it up.",
        )
    if len(_words(event.message, event.values)) < policy.min_message_length:
        return Refused(
            "too_short",
            f"Say what they did: at least {policy.min_message_length} characters, "
            "e.g. `for the site activation email`.",
        )
    known = {v.lower() for v in policy.values}
    unknown_values = [v for v in event.values if v.lower() not in known]
    if unknown_values and policy.values:
        return Refused(
            "unknown_value",
            f"{', '.join(unknown_values)} is not one of our values: {', '.join(policy.values)}.",
        )
    if policy.require_value and not event.values:
        return Refused(
            "value_required",
            f"Add one of our values to your kudos: {', '.join(policy.values)}.",
        )
    return None


def _guests(event: KudosRequested) -> Refused | None:
    """Kudos are between colleagues: recognising someone outside the company can look like
    a transfer of value (to a healthcare professional, say), and a guest is not staff."""
    if event.giver.external:
        return Refused(
            "guest",
            "Kudos are for colleagues: guest accounts and people from outside the company "
            "can't give them here.",
        )
    outside = [p.display_name for p in event.recipients if p.external]
    if outside:
        return Refused(
            "guest",
            f"Kudos are for colleagues, and {', '.join(outside)} is a guest or from outside "
            "the company: recognising people outside the company can look like a transfer "
            "of value, so it is not done here.",
        )
    return None


def _words(message: str, values: tuple[str, ...]) -> str:
    """The message without value tags: "#collaboration" alone says nothing about what was done."""
    out = message
    for value in values:
        out = re.sub(re.escape(value), " ", out, flags=re.IGNORECASE)
    return " ".join(out.split())

"""Why a kudos is refused before anything is stored: who it is for, who gives it, what it
says; each refusal tells the giver what to do instead."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.events import KudosRequested
from handlers.i18n import N_, _, joined, n_
from handlers.policy import KudosPolicy

NOT_YOURSELF = N_("Kudos are for colleagues: you can't give them to yourself.")


@dataclass(frozen=True)
class Refused:
    """No kudos was recorded; `message` tells the giver why and what to do (and, when the
    text may describe an adverse event, that it went to drug safety all the same)."""

    reason: str
    message: str
    to_drug_safety: bool = False


def validate(event: KudosRequested, policy: KudosPolicy) -> Refused | None:
    """Why `event` cannot be recorded, told in the current language (the giver's)."""
    if event.non_people:
        return Refused(
            "not_people",
            _(
                "Kudos go to people, not to channels or groups ({names}). "
                "Mention each colleague with @.",
                names=joined(event.non_people),
            ),
        )
    if not event.recipients:
        return Refused(
            "no_recipients",
            _(
                "Who is it for? Try `/kudos @colleague for the site activation email {value}`.",
                value=policy.values[0] if policy.values else "#value",
            ),
        )
    unknown = [p.user_id for p in event.recipients if not p.exists or p.deleted]
    if unknown:
        return Refused(
            "unknown_user", _("I can't find {users} in this workspace.", users=joined(unknown))
        )
    bots = [p.display_name for p in event.recipients if p.is_bot]
    if bots:
        return Refused(
            "bot",
            _("Bots don't need kudos ({names}); thank a human instead.", names=joined(bots)),
        )
    if event.giver.is_bot or not event.giver.exists:
        return Refused("giver", _("Only members of this workspace can give kudos."))
    if not policy.allow_guests:
        refusal = _guests(event)
        if refusal:
            return refusal
    if any(p.user_id == event.giver.user_id for p in event.recipients):
        return Refused("self", _(NOT_YOURSELF))
    return _wording(event, policy)


def _wording(event: KudosRequested, policy: KudosPolicy) -> Refused | None:
    """How many it is for, what it says and the values it names."""
    if len({p.user_id for p in event.recipients}) > policy.max_recipients:
        return Refused(
            "too_many",
            n_(
                "One kudos can go to at most {n} person; split it up.",
                "One kudos can go to at most {n} people; split it up.",
                policy.max_recipients,
            ),
        )
    if len(_words(event.message, event.values)) < policy.min_message_length:
        return Refused(
            "too_short",
            n_(
                "Say what they did: at least {n} character, e.g. `for the site activation email`.",
                "Say what they did: at least {n} characters, e.g. `for the site activation email`.",
                policy.min_message_length,
            ),
        )
    known = {v.lower() for v in policy.values}
    unknown_values = [v for v in event.values if v.lower() not in known]
    if unknown_values and policy.values:
        return Refused(
            "unknown_value",
            _(
                "{tags} is not one of our values: {values}.",
                tags=joined(unknown_values),
                values=joined(policy.values),
            ),
        )
    if policy.require_value and not event.values:
        return Refused(
            "value_required",
            _("Add one of our values to your kudos: {values}.", values=joined(policy.values)),
        )
    return None


def _guests(event: KudosRequested) -> Refused | None:
    """Kudos are between colleagues: recognising someone outside the company can look like
    a transfer of value (to a healthcare professional, say), and a guest is not staff."""
    if event.giver.external:
        return Refused(
            "guest",
            _(
                "Kudos are for colleagues: guest accounts and people from outside the company "
                "can't give them here."
            ),
        )
    outside = [p.display_name for p in event.recipients if p.external]
    if outside:
        return Refused(
            "guest",
            _(
                "Kudos are for colleagues, and {names} is a guest or from outside the company: "
                "recognising people outside the company can look like a transfer of value, so "
                "it is not done here.",
                names=joined(outside),
            ),
        )
    return None


def _words(message: str, values: tuple[str, ...]) -> str:
    """The message without value tags: "#collaboration" alone says nothing about what was done."""
    out = message
    for value in values:
        out = re.sub(re.escape(value), " ", out, flags=re.IGNORECASE)
    return " ".join(out.split())

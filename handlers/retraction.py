"""Take back a published kudos: its giver within `recognition.retract_minutes` of giving it,
or an admin at any time. The points come off every board, the public post, the recipients'
messages and their managers' notices are deleted where they were delivered (and never sent
where they were not), and the decision is audited. A drug-safety case opened from its text
is never touched: a possible adverse event, once reported, stays reported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from handlers import members, sprints
from handlers.clock import Clock
from handlers.events import Person
from handlers.i18n import _, n_
from handlers.policy import KudosPolicy
from storage import outbox_retract, queries
from storage.models import Member, Recognition
from storage.models.recognition import PUBLISHED


@dataclass(frozen=True)
class Retracted:
    recognition_id: int
    messages: int  # delivered messages being deleted


@dataclass(frozen=True)
class NotRetracted:
    code: str  # unknown | already | not_published | not_yours | too_late
    message: str


RetractResult = Retracted | NotRetracted


def retract(
    recognition_id: int,
    actor: Person | None,
    *,
    session: Session,
    policy: KudosPolicy,
    clock: Clock,
    reason: str | None = None,
    admin: str | None = None,
) -> RetractResult:
    """Take back kudos `recognition_id` for `actor` (a chat or roster identity), or, with
    `admin` (who, as the audit names them: e.g. `dashboard:ana@example.com`), for an admin
    the caller has already checked. Nothing changes unless it is taken back."""
    query = select(Recognition).where(Recognition.id == recognition_id).with_for_update()
    recognition = session.exec(query).first()
    if recognition is None or recognition.id is None:
        return NotRetracted("unknown", _("There is no kudos #{number}.", number=recognition_id))
    now = clock.now()
    who, by = _who(session, recognition, actor, admin)
    refusal = _refusal(recognition, who, by, now, policy.retract_minutes)
    if refusal is not None:
        return refusal
    assert who is not None  # (else refused as not theirs)
    recognition.revoked_at = now
    session.add(recognition)
    session.flush()
    sprints.tally_recognition(session, policy.sprints, recognition.id, sign=-1)
    deleted = outbox_retract.retract(session, key_prefix=f"recognition:{recognition.id}:", now=now)
    detail: dict[str, object] = {"by": by, "messages": deleted}
    if reason:
        detail["reason"] = reason[:500]
    queries.append_audit(
        session=session,
        actor=who,
        action="kudos.retracted",
        subject=f"recognition:{recognition.id}",
        detail=detail,
        at=now,
    )
    return Retracted(recognition.id, deleted)


def _refusal(
    recognition: Recognition, who: str | None, by: str, now: datetime, window: int
) -> NotRetracted | None:
    """Why this kudos may not be taken back by whom asks, or None."""
    number = recognition.id
    if recognition.revoked_at is not None:
        return NotRetracted("already", _("Kudos #{number} was already taken back.", number=number))
    if recognition.outcome not in PUBLISHED:
        return NotRetracted(
            "not_published",
            _(
                "Kudos #{number} was not published, so there is nothing to take back.",
                number=number,
            ),
        )
    if who is None:
        return NotRetracted(
            "not_yours",
            _("Only its giver or an admin can take back kudos #{number}.", number=number),
        )
    if by == "giver" and (now - recognition.created_at).total_seconds() > window * 60:
        return NotRetracted(
            "too_late",
            n_(
                "Kudos can be taken back within {n} minute of giving them; please ask an admin.",
                "Kudos can be taken back within {n} minutes of giving them; please ask an admin.",
                window,
            ),
        )
    return None


def _who(
    session: Session, recognition: Recognition, actor: Person | None, admin: str | None
) -> tuple[str | None, str]:
    """(the actor as the audit names them, "giver" or "admin"), or (None, "") when they may
    not take this kudos back."""
    if admin:
        return admin, "admin"
    member = members.find(actor, session=session) if actor is not None else None
    if member is None:
        return None, ""
    row = session.get(Member, member.id)
    if row is not None and "admin" in (row.roles or []):
        return f"member:{member.id}", "admin"
    if member.id == recognition.giver_id:
        return f"member:{member.id}", "giver"
    return None, ""

"""A person's data: everything held about them, and erasure that keeps the counts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from handlers import safety
from handlers.messages import DRUG_SAFETY
from storage import people, queries
from storage.models import (
    AuditEntry,
    Member,
    Outbox,
    PvCase,
    Recognition,
    RecognitionRecipient,
    SurveyAnswer,
    SurveyInvite,
    SurveyRound,
)

"""Drug-safety notifications: kept through an erasure, like the cases they report."""


def _member(session: Session, email: str) -> Member | None:
    return session.exec(select(Member).where(Member.email == email.strip().lower())).first()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export(email: str, *, session: Session, now: datetime) -> dict[str, Any] | None:
    """Everything held about the member with `email`, as JSON-ready data; None if unknown."""
    member = _member(session, email)
    if member is None or member.id is None:
        return None
    subject = f"member:{member.id}"
    cases = session.exec(select(PvCase).where(PvCase.reporter_member_id == member.id)).all()
    audit = session.exec(
        select(AuditEntry).where(
            or_(col(AuditEntry.actor) == subject, col(AuditEntry.subject) == subject)
        )
    ).all()
    exported = {
        "exported_at": now.isoformat(),
        "member": _profile(member),
        **_recognitions(session, member.id),
        **_surveys(session, member.id),
        "pv_cases_reported": [
            # The report's text is sealed for the drug-safety team (it may name patients);
            # they answer requests for it.
            {"id": c.id, "aware_at": _iso(c.aware_at), "source": c.source, "text": safety.HELD}
            for c in cases
        ],
        "audit_entries": [
            {"at": _iso(e.at), "action": e.action, "actor": e.actor, "subject": e.subject}
            for e in audit
        ],
    }
    # Audited after the trail was read: the export shows what was held before it was asked.
    queries.append_audit(
        session=session,
        actor="privacy",
        action="privacy.exported",
        subject=subject,
        detail={},
        at=now,
    )
    return exported


def _profile(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "email": member.email,
        "display_name": member.display_name,
        **people.identity_export(member),
        "timezone": member.timezone,
        "team": member.team,
        "region": member.region,
        "therapeutic_area": member.therapeutic_area,
        "function": member.function,
        "roles": member.roles,
        "manager_id": member.manager_id,
        "active": member.active,
        "created_at": _iso(member.created_at),
    }


def _recognitions(session: Session, member_id: int) -> dict[str, list[dict[str, Any]]]:
    given = session.exec(select(Recognition).where(Recognition.giver_id == member_id)).all()
    received_ids = session.exec(
        select(RecognitionRecipient.recognition_id).where(
            RecognitionRecipient.member_id == member_id
        )
    ).all()
    received = (
        session.exec(select(Recognition).where(col(Recognition.id).in_(received_ids))).all()
        if received_ids
        else []
    )
    return {
        "recognitions_given": [_recognition(r) for r in given],
        "recognitions_received": [_recognition(r) for r in received],
    }


def _surveys(session: Session, member_id: int) -> dict[str, list[dict[str, Any]]]:
    answers = session.exec(
        select(SurveyAnswer, SurveyRound)
        .join(SurveyRound, col(SurveyRound.id) == col(SurveyAnswer.round_id))
        .where(SurveyAnswer.member_id == member_id)
    ).all()
    invited = session.exec(
        select(SurveyInvite, SurveyRound)
        .join(SurveyRound, col(SurveyRound.id) == col(SurveyInvite.round_id))
        .where(SurveyInvite.member_id == member_id)
    ).all()
    return {
        "survey_answers": [
            {
                "survey": r.survey_id,
                "round": r.number,
                "question": a.question_id,
                "score": a.score,
                "choices": a.choices,
                "text": a.text,
            }
            for a, r in answers
        ],
        # Answers to anonymous surveys are held without any link to the person who gave
        # them, so they cannot be found, exported or erased as theirs.
        "survey_invitations": [
            {
                "survey": r.survey_id,
                "round": r.number,
                "anonymous": r.anonymous,
                "sent_at": _iso(i.sent_at),
                "responded": i.responded,
                "reminders": i.reminders_sent,
            }
            for i, r in invited
        ],
    }


def _recognition(r: Recognition) -> dict[str, Any]:
    return {
        "id": r.id,
        "at": _iso(r.created_at),
        "text": r.text,
        "values": r.value_tags,
        "source": r.source,
        "outcome": r.outcome,
        "revoked_at": _iso(r.revoked_at),
    }


def erase(email: str, *, session: Session, now: datetime) -> dict[str, int] | None:
    """Pseudonymise a person: contact data gone, name replaced, counts kept; None if unknown.

    Drug-safety cases they reported are kept as they are: pharmacovigilance law requires
    the records, and a case keeps its own copy of who reported it.
    """
    # As committed now, and locked FOR UPDATE: an erasure of the same person at the same time
    # (another replica) waits, then no longer finds them by this address; a use case about
    # to point at them (which locks them FOR KEY SHARE) finishes first, and its texts are
    # rewritten below, or waits and then no longer finds them by their chat id.
    member = session.exec(
        select(Member)
        .where(Member.email == email.strip().lower())
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if member is None or member.id is None:
        return None
    pseudonym = f"former member {member.id}"
    names = {n for n in (member.display_name, (member.email or "").split("@")[0]) if n}
    member.display_name = pseudonym
    people.forget_identities(member)
    member.active = False
    member.updated_at = now
    session.add(member)

    rewritten, scrubbed = _rewrite_names(session, names, pseudonym)
    session.flush()
    kept = session.exec(select(PvCase.id).where(PvCase.reporter_member_id == member.id)).all()
    counts = {
        "texts_rewritten": rewritten,
        "messages_scrubbed": scrubbed,
        "pv_cases_kept": len(kept),
    }
    queries.append_audit(
        session=session,
        actor="privacy",
        action="privacy.erased",
        subject=f"member:{member.id}",
        detail=counts,
        at=now,
    )
    return counts


def _rewrite_names(session: Session, names: set[str], pseudonym: str) -> tuple[int, int]:
    """`names` replaced by `pseudonym` in every text; queued messages naming them scrubbed
    (drug-safety notifications are kept, like their cases). (texts, messages) changed."""
    if not names:
        return 0, 0
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    rewritten = 0
    for recognition in session.exec(select(Recognition)):
        text = pattern.sub(pseudonym, recognition.text)
        if text != recognition.text:
            recognition.text = text
            session.add(recognition)
            rewritten += 1
    for answer in session.exec(select(SurveyAnswer).where(col(SurveyAnswer.text).is_not(None))):
        written = answer.text or ""
        if pattern.search(written):
            answer.text = pattern.sub(pseudonym, written)
            session.add(answer)
            rewritten += 1
    scrubbed = 0
    for row in session.exec(select(Outbox)):
        if row.template in DRUG_SAFETY:
            continue  # a drug-safety notification is kept and still delivered, like its case
        flat = str(row.data)
        if pattern.search(flat):
            row.data = {"erased": True}
            if row.status == "pending":
                row.status = "dead"
                row.last_error = "recipient or subject erased"
            session.add(row)
            scrubbed += 1
    return rewritten, scrubbed

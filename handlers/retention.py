"""Retention: texts the gate stopped, and PV cases' links and texts, are kept only as long
as set.

A blocked kudos (and a held one that was rejected) is kept in its redacted form so the
giver and the reviewers can see why; after `stopped_text_days` its text, and the copies
of it in review requests, are erased. A PV case stays (it is the record of when the
company became aware), but after `pv_link_days` it no longer points at the chat message
or the member who reported it, and that message's text is erased; after `pv_text_days`
(counted from day 0, and only once every notification of it was delivered) its sealed
original text is erased too. The text hash, the findings' rule ids and the audit trail
stay, so counts and the chain are unchanged.

Outbox rows that are finished (delivered, or given up on) go after `outbox_days`, 30 by
default: housekeeping, not erasure, so it is not audited. Every use case that could write
the same outbox key again that late keeps its own lasting record of having done so (the
recognition, the review, the round's invitations, the scheduled run, the inbound event),
so a deleted key lets no message go out twice; see docs/architecture.md, "Outbox".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, exists, or_, select, update
from sqlmodel import Session

from handlers.messages import Template
from storage import maintenance, pv_cases, queries
from storage.models import Outbox, PvCase, Recognition, Review

ERASED = pv_cases.ERASED
_recognition = Recognition.__table__  # type: ignore[attr-defined]
_review = Review.__table__  # type: ignore[attr-defined]
_pv = PvCase.__table__  # type: ignore[attr-defined]
_outbox = Outbox.__table__  # type: ignore[attr-defined]
OUTBOX_DAYS = 30
OUTBOX_BATCH = 1_000  # rows deleted per transaction: milliseconds of locks, not minutes
# Read after delivery: a reaction to the bot's public post is traced back to its kudos.
_OUTBOX_KEPT = (Template.KUDOS_PUBLIC,)


@dataclass(frozen=True)
class Retention:
    """Days to keep each kind of record; None keeps it. Texts are kept unless a policy
    says otherwise; finished outbox rows go after `OUTBOX_DAYS` unless one does."""

    stopped_text_days: int | None = None
    pv_link_days: int | None = None
    pv_text_days: int | None = None
    outbox_days: int | None = OUTBOX_DAYS

    def __post_init__(self) -> None:
        for name in ("stopped_text_days", "pv_link_days", "pv_text_days", "outbox_days"):
            days = getattr(self, name)
            if days is not None and days < 1:
                raise ValueError(f"retention.{name} must be at least 1 day")

    @property
    def on(self) -> bool:
        """Some text is erased when its time is up (`purge`; the outbox has its own)."""
        days = (self.stopped_text_days, self.pv_link_days, self.pv_text_days)
        return any(d is not None for d in days)


@dataclass(frozen=True)
class Purged:
    texts: int
    pv_links: int
    pv_texts: int = 0

    @property
    def any(self) -> bool:
        return bool(self.texts or self.pv_links or self.pv_texts)


def purge(session: Session, *, retention: Retention, now: datetime) -> Purged:
    """Erase what is due (idempotent: a second run finds nothing) and audit the counts.

    The rows due are selected locked: a purge running at the same time (another replica)
    waits, then finds them erased (PostgreSQL checks the conditions again on the rows as
    committed) and erases and audits nothing twice."""
    connection = session.connection()
    texts: list[int] = []
    if retention.stopped_text_days is not None:
        texts = _stopped_texts(connection, now - timedelta(days=retention.stopped_text_days))
    links: list[tuple[int, int | None]] = []
    if retention.pv_link_days is not None:
        links = _old_pv_links(connection, now - timedelta(days=retention.pv_link_days))
    erase = sorted(set(texts) | {r for _, r in links if r is not None})
    if erase:
        connection.execute(
            update(_recognition).where(_recognition.c.id.in_(erase)).values(text=ERASED)
        )
        _erase_copies(session, erase)
    if links:
        connection.execute(
            update(_pv)
            .where(_pv.c.id.in_([i for i, _ in links]))
            .values(recognition_id=None, reporter_member_id=None)
        )
    cases: list[int] = []
    if retention.pv_text_days is not None:
        cases = _old_pv_texts(session, now - timedelta(days=retention.pv_text_days))
        pv_cases.erase_texts(session, cases)
    result = Purged(texts=len(erase), pv_links=len(links), pv_texts=len(cases))
    if result.any:
        queries.append_audit(
            session=session,
            actor="retention",
            action="retention.purge",
            subject="retention",
            detail={
                "texts": result.texts,
                "pv_links": result.pv_links,
                "pv_texts": result.pv_texts,
                "stopped_text_days": retention.stopped_text_days,
                "pv_link_days": retention.pv_link_days,
                "pv_text_days": retention.pv_text_days,
            },
            at=now,
        )
    return result


def purge_outbox(
    session: Session,
    *,
    retention: Retention,
    now: datetime,
    after: int = 0,
    batch: int = OUTBOX_BATCH,
) -> maintenance.PurgeBatch:
    """One batch of the outbox's purge: finished rows written more than `outbox_days` ago,
    from id `after` on. The caller commits each batch and goes on from `resume_after`
    until it is None. Pending rows, drug-safety notifications and public kudos posts stay
    (`maintenance.purge_outbox`)."""
    if retention.outbox_days is None:
        return maintenance.PurgeBatch(0, None)
    return maintenance.purge_outbox(
        session,
        before=now - timedelta(days=retention.outbox_days),
        after=after,
        limit=batch,
        keep_templates=_OUTBOX_KEPT,
    )


def _stopped_texts(connection: Connection, cutoff: datetime) -> list[int]:
    """Recognitions whose text is due: blocked before `cutoff` with no review pending or
    approved, or rejected by a review decided before `cutoff`."""
    rejected = exists(
        select(_review.c.id).where(
            _review.c.recognition_id == _recognition.c.id,
            _review.c.status == "rejected",
            _review.c.decided_at < cutoff,
        )
    )
    return [
        int(i)
        for i in connection.execute(
            select(_recognition.c.id)
            .where(
                _recognition.c.text != ERASED,
                or_(
                    and_(
                        _recognition.c.outcome == "block",
                        _recognition.c.created_at < cutoff,
                        ~exists(
                            select(_review.c.id).where(
                                _review.c.recognition_id == _recognition.c.id,
                                _review.c.status != "rejected",
                            )
                        ),
                    ),
                    rejected,
                ),
            )
            .with_for_update(key_share=True)
        ).scalars()
    ]


def _old_pv_links(connection: Connection, cutoff: datetime) -> list[tuple[int, int | None]]:
    """(case id, recognition id) of cases known before `cutoff` that still link to a
    message or reporter."""
    return [
        (int(r.id), r.recognition_id)
        for r in connection.execute(
            select(_pv.c.id, _pv.c.recognition_id)
            .where(
                _pv.c.aware_at < cutoff,
                or_(_pv.c.recognition_id.is_not(None), _pv.c.reporter_member_id.is_not(None)),
            )
            .with_for_update(key_share=True)
        )
    ]


def _old_pv_texts(session: Session, cutoff: datetime) -> list[int]:
    """Cases known before `cutoff` whose text is still kept and whose every notification
    has been delivered (a text is never erased before drug safety has it)."""
    waiting = pv_cases.awaiting_delivery(session)
    rows = session.connection().execute(
        select(_pv.c.id)
        .where(_pv.c.aware_at < cutoff, _pv.c.text != pv_cases.ERASED)
        .with_for_update(key_share=True)
    )
    return [int(i) for (i,) in rows if int(i) not in waiting]


def _erase_copies(session: Session, recognition_ids: list[int]) -> None:
    """The review requests that quoted these texts (delivered or not: an undelivered one
    would otherwise post an erased text later)."""
    wanted = set(recognition_ids)
    rows = session.connection().execute(
        select(_outbox.c.id, _outbox.c.data).where(_outbox.c.template == Template.REVIEW_REQUEST)
    )
    for row in rows.all():
        data = dict(row.data or {})
        if data.get("recognition_id") in wanted and data.get("text") != ERASED:
            data["text"] = ERASED
            session.connection().execute(
                update(_outbox).where(_outbox.c.id == row.id).values(data=data)
            )

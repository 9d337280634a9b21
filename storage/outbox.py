"""The outbox's claims and outcomes: leasing due rows per channel, recording what became of
each, and the counts health and metrics report.

A row of kind `update` redraws a message already sent (`message_ref`) in place: a newer
redraw of the same message replaces one still waiting, and once it is done the row is
deleted, as nothing is owed any more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Connection,
    String,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    update,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from storage.models import Outbox, PvCase
from storage.queries import Message

_table = Outbox.__table__  # type: ignore[attr-defined]
_JOB_COLUMNS = (
    _table.c.id,
    _table.c.platform,
    _table.c.workspace,
    _table.c.channel,
    _table.c.kind,
    _table.c.user,
    _table.c.template,
    _table.c.data,
    _table.c.attempts,
    _table.c.key,
    _table.c.claimed_until,
    _table.c.message_ref,
)
_MARK_DELIVERED = (
    update(_table)
    .where(_table.c.id == bindparam("row_id"))
    .values(
        status="delivered",
        message_ref=bindparam("ref"),
        delivered_at=bindparam("at"),
        claimed_until=None,
    )
)


@dataclass(frozen=True)
class Job:
    """A claimed row, as a sender needs it."""

    id: int
    platform: str
    workspace: str | None
    channel: str
    kind: str
    user: str | None
    template: str
    data: dict[str, object]
    attempts: int
    key: str = ""
    # Claimed before and never finished: the last owner died, perhaps after sending. A
    # sender that can ask the platform whether the message exists should ask first.
    uncertain: bool = False
    ref: str | None = None  # kind `update`: the message it redraws


def claim(
    session: Session,
    *,
    platforms: list[str],
    busy: list[str],
    room: int,
    per_channel: int,
    now: datetime,
    lease: timedelta,
) -> list[Job]:
    """Lease due rows: the first few of each channel whose earliest waiting row is due
    and free, for as many channels as there is room for, oldest first.

    A channel whose earliest waiting row is leased (being sent, by this replica or
    another) or waiting for a retry gets nothing, so each channel receives its
    messages in the order they were queued, however many dispatchers run; and a deep
    backlog in one channel never keeps the others waiting."""
    heads = (
        sa_select(
            _table.c.platform,
            _table.c.channel,
            func.min(_table.c.id).label("first"),
        )
        .where(_table.c.status == "pending", _table.c.platform.in_(platforms))
        .group_by(_table.c.platform, _table.c.channel)
        .subquery()
    )
    free = or_(_table.c.claimed_until.is_(None), _table.c.claimed_until < now)
    ready = (
        sa_select(_table.c.id, _table.c.platform, _table.c.channel)
        .join(heads, _table.c.id == heads.c.first)
        .where(_table.c.next_attempt_at <= now, free)
        .order_by(_table.c.id)
        .limit(room)
    )
    if busy:
        ready = ready.where(_table.c.channel.not_in(busy))
    conn = session.connection()
    jobs: list[Job] = []
    for head_id, platform, channel in conn.execute(ready).all():
        jobs.extend(_channel_jobs(conn, platform, channel, head_id, per_channel, now))
    if jobs:
        conn.execute(
            update(_table)
            .where(_table.c.id.in_([j.id for j in jobs]))
            .values(claimed_until=now + lease)
        )
    return jobs


def _channel_jobs(
    conn: Connection, platform: str, channel: str, head_id: int, per_channel: int, now: datetime
) -> list[Job]:
    """The first rows of one channel from its head on, up to the first that has to wait;
    none when another replica is claiming the channel (its head is locked)."""
    rows = (
        sa_select(*_JOB_COLUMNS, _table.c.next_attempt_at)
        .where(
            _table.c.platform == platform,
            _table.c.channel == channel,
            _table.c.status == "pending",
            _table.c.id >= head_id,
        )
        .order_by(_table.c.id)
        .limit(per_channel)
    )
    if conn.dialect.name == "postgresql":
        rows = rows.with_for_update(skip_locked=True)
    taken: list[Job] = []
    for row in conn.execute(rows):
        if not taken and row.id != head_id:
            break  # another replica is claiming this channel right now
        due = row.next_attempt_at <= now
        if not due or (row.claimed_until is not None and row.claimed_until >= now):
            break  # keep the order: nothing after a row that has to wait
        uncertain = row.claimed_until is not None
        ref = row.message_ref if row.kind == "update" else None
        taken.append(Job(*row[:9], key=row.key, uncertain=uncertain, ref=ref))
    return taken


def queue_update(session: Session, message: Message, *, ref: str, now: datetime) -> None:
    """Queue a redraw of message `ref` in `message.channel`, in place of any earlier redraw of
    it still waiting (one being sent is left to finish: this one comes after it)."""
    conn = session.connection()
    conn.execute(
        delete(_table).where(
            _table.c.platform == message.platform,
            _table.c.channel == message.channel,
            _table.c.kind == "update",
            _table.c.message_ref == ref,
            _table.c.status == "pending",
            or_(_table.c.claimed_until.is_(None), _table.c.claimed_until < now),
        )
    )
    values = {**vars(message), "kind": "update", "message_ref": ref}
    conn.execute(
        insert(_table).values(
            **values, status="pending", attempts=0, next_attempt_at=now, created_at=now
        )
    )


def mark_delivered(session: Session, delivered: list[dict[str, object]]) -> None:
    """Record deliveries in one statement: each item has `row_id`, `ref` and `at`."""
    session.connection().execute(_MARK_DELIVERED, delivered)
    _forget_updates(session, [item["row_id"] for item in delivered])


def _forget_updates(session: Session, row_ids: list[object]) -> None:
    """Redraws that are done are deleted: nothing is owed, and a survey's redraw would
    otherwise keep, after an anonymous round closes, who took part in it."""
    session.connection().execute(
        delete(_table).where(_table.c.id.in_(row_ids), _table.c.kind == "update")
    )


def mark_failed(
    session: Session,
    *,
    row_id: int,
    error: str,
    counts: bool,
    max_attempts: int,
    retry_at: datetime,
    uncertain: bool = False,
) -> Outbox:
    """Record a failed attempt (`counts`: one of the row's attempts): the row is dead once
    it has had `max_attempts`, else due again at `retry_at`. Returns the row.

    `uncertain`: the row may have been sent by an owner that died, and it is not known yet;
    it stays so (its lease ends when it is due), and its sender will ask again."""
    row = session.get(Outbox, row_id)
    assert row is not None
    if counts:
        row.attempts += 1
    row.last_error = error[:500]
    row.claimed_until = retry_at if uncertain else None
    if row.attempts >= max_attempts:
        row.status = "dead"
    else:
        row.next_attempt_at = retry_at
    _keep_or_forget(session, row)
    return row


def release(session: Session, *, row_id: int) -> None:
    """Hand a claimed row back, unsent, for the next claim."""
    row = session.get(Outbox, row_id)
    assert row is not None
    row.claimed_until = None
    session.add(row)


def mark_dead(session: Session, *, row_id: int, error: str) -> None:
    """Give up on a row no retry will deliver."""
    row = session.get(Outbox, row_id)
    assert row is not None
    row.status, row.last_error, row.claimed_until = "dead", error[:500], None
    row.attempts += 1
    _keep_or_forget(session, row)


def _keep_or_forget(session: Session, row: Outbox) -> None:
    """Keep a row's new state, but not a redraw that gave up (see `_forget_updates`); the
    log has said why."""
    if row.status == "dead" and row.kind == "update":
        session.delete(row)
    else:
        session.add(row)


def pending_count(session: Session) -> int:
    """Rows still owed, for health reporting."""
    stmt = select(func.count(col(Outbox.id))).where(Outbox.status == "pending")
    return int(session.exec(stmt).one())


# Where a drug-safety case can be sent; its outbox rows are keyed `pv:<case>:<platform>`.
PV_PLATFORMS = ("slack", "teams", "webhook", "email")


def pv_key(case_id: int, platform: str) -> str:
    """The outbox key of case `case_id`'s notification on `platform`."""
    return f"pv:{case_id}:{platform}"


def undelivered_safety_count(session: Session) -> int:
    """Drug-safety notifications that gave up, and open cases that were never queued
    anywhere (no destination was configured when they were opened): each needs a person."""
    dead = select(func.count(col(Outbox.id))).where(
        Outbox.status == "dead", col(Outbox.template).startswith("pv.")
    )
    case_id = cast(col(PvCase.id), String)
    # Exact keys, so each lookup is one probe of the outbox's unique key index.
    keys = [literal("pv:", String) + case_id + literal(f":{p}", String) for p in PV_PLATFORMS]
    queued = exists().where(col(Outbox.key).in_(keys))
    unsent = select(func.count(col(PvCase.id))).where(PvCase.status == "open", ~queued)
    return int(session.exec(dead).one()) + int(session.exec(unsent).one())


def waiting_by_platform(session: Session, *, now: datetime) -> dict[str, tuple[int, float]]:
    """Per platform: pending rows, and the age in seconds of the oldest of them."""
    stmt = (
        sa_select(col(Outbox.platform), func.count(), func.min(col(Outbox.created_at)))
        .where(col(Outbox.status) == "pending")
        .group_by(col(Outbox.platform))
    )
    return {
        str(platform): (int(count), max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        for platform, count, oldest in session.connection().execute(stmt)
    }

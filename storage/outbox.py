"""The outbox's claims and outcomes: leasing due rows per channel, recording what became of
each, and the counts health and metrics report.

A row of kind `update` redraws a message already sent (`message_ref`) in place: a newer
redraw of the same message replaces one still waiting, and once it is done the row is
deleted, as nothing is owed any more.

A row of kind `delete` takes back the message of an earlier row of its channel, `row:<id>`
in its `message_ref` (`storage.outbox_retract`): claimed once that row is delivered or dead,
with the platform's id of its message as it stands then."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from storage.models import Outbox, PvCase
from storage.queries import Message
from storage.types import UTCDateTime

_table = Outbox.__table__  # type: ignore[attr-defined]
# What a claim reads of each candidate row (see `_job`).
_JOB_COLUMNS = (
    "id",
    "platform",
    "workspace",
    "channel",
    "kind",
    "user",
    "template",
    "data",
    "attempts",
    "key",
    "claimed_until",
    "message_ref",
    "next_attempt_at",
)
# How a `delete` row names the row whose message it takes back: `row:<id>`.
ROW_REF = "row:"
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
    # Kind `update`: the message it redraws. Kind `delete`: the message it takes back, None
    # when none is known to have been sent (its row died, or is gone).
    ref: str | None = None


def _pending(table: Any = _table) -> ColumnElement[bool]:
    """`status = 'pending'`, with the value written into the SQL: the partial index
    `ix_outbox_pending` serves a query only when its WHERE visibly implies the index's
    predicate, which neither PostgreSQL's generic plans nor SQLite can see through a
    bound parameter."""
    pending: ColumnElement[bool] = table.c.status == literal_column("'pending'")
    return pending


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
    backlog in one channel never keeps the others waiting. Two statements, whatever the
    number of channels: one reads (and on PostgreSQL locks) the candidate rows of every
    channel, one leases those taken."""
    conn = session.connection()
    jobs: list[Job] = []
    head, taking = None, False
    params = {
        "platforms": platforms,
        "busy": busy,
        "room": room,
        "skip": per_channel - 1,
        "now": now,
    }
    for row in conn.execute(_CANDIDATES, params):
        if row.head != head:
            # The next channel, taken only from its head: a replica claiming it holds the
            # head's lock, and the head was skipped.
            head, taking = row.head, row.id == row.head
        if not taking:
            continue
        leased = row.claimed_until is not None and row.claimed_until >= now
        # A `delete` row waits while its message is on its way (it has no platform id yet).
        if row.next_attempt_at > now or leased or row.original_status == "pending":
            taking = False  # keep the order: nothing after a row that has to wait
            continue
        jobs.append(_job(row))
    if jobs:
        conn.execute(_LEASE[conn.dialect.name], {"ids": [j.id for j in jobs], "until": now + lease})
    return jobs


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        platform=row.platform,
        workspace=row.workspace,
        channel=row.channel,
        kind=row.kind,
        user=row.user,
        template=row.template,
        data=row.data,
        attempts=row.attempts,
        key=row.key,
        uncertain=row.claimed_until is not None,
        # Only a `delete` row has an original: its message, once delivered.
        ref=row.message_ref
        if row.kind == "update"
        else row.original_ref
        if row.original_status == "delivered"
        else None,
    )


def _heads_due() -> CTE:
    """Each channel's head (earliest waiting row) among `platforms`, when it is due and
    free at `now` and the channel is not `busy`."""
    now = bindparam("now", type_=UTCDateTime())
    heads = (
        sa_select(_table.c.platform, _table.c.channel, func.min(_table.c.id).label("first"))
        .where(_pending(), _table.c.platform.in_(bindparam("platforms", expanding=True)))
        .group_by(_table.c.platform, _table.c.channel)
        .subquery("heads")
    )
    due = (
        sa_select(_table.c.id, _table.c.platform, _table.c.channel)
        .join(heads, _table.c.id == heads.c.first)
        .where(
            _table.c.next_attempt_at <= now,
            or_(_table.c.claimed_until.is_(None), _table.c.claimed_until < now),
            _table.c.channel.not_in(bindparam("busy", expanding=True)),
        )
    )
    # Planned apart from the LIMIT that follows: told that only `room` rows are wanted in
    # id order, PostgreSQL would walk the primary key from the oldest delivered row, hoping
    # to meet the heads early, when they are all at the far end.
    return due.cte("heads_due").prefix_with("MATERIALIZED", dialect="postgresql")


def _candidates() -> Select[Any]:
    """The first `skip + 1` waiting rows of each channel whose head is due (`_heads_due`),
    for the `room` channels with the oldest heads; ordered by head, then id. Every part
    reads `ix_outbox_pending`, and the table only by primary key. Built once: a claim only
    binds its values."""
    heads_due = _heads_due()
    later = _table.alias("later")
    # Where a channel's run may end: its `per_channel`-th waiting row (None when fewer
    # wait). PostgreSQL works it out after the LIMIT, only for the channels chosen.
    last = (
        sa_select(later.c.id)
        .where(
            later.c.platform == heads_due.c.platform,
            later.c.channel == heads_due.c.channel,
            _pending(later),
            later.c.id >= heads_due.c.id,
        )
        .order_by(later.c.id)
        .offset(bindparam("skip"))
        .limit(1)
        .scalar_subquery()
    )
    ready = (
        sa_select(heads_due, last.label("last")).order_by(heads_due.c.id).limit(bindparam("room"))
    )
    runs = ready.subquery("runs")
    job = _table.alias("job")
    run = and_(
        job.c.platform == runs.c.platform,
        job.c.channel == runs.c.channel,
        job.c.id >= runs.c.id,
        or_(runs.c.last.is_(None), job.c.id <= runs.c.last),
    )
    # A `delete` row's original, by primary key; the CASE keeps every other row's
    # `message_ref` (a platform's id) from being read as a number.
    original = _table.alias("original")
    named = case(
        (job.c.kind == "delete", cast(func.substr(job.c.message_ref, len(ROW_REF) + 1), Integer))
    )
    return (
        sa_select(
            runs.c.id.label("head"),
            *(job.c[name] for name in _JOB_COLUMNS),
            original.c.status.label("original_status"),
            original.c.message_ref.label("original_ref"),
        )
        .select_from(runs.join(job, run).outerjoin(original, original.c.id == named))
        .where(_pending(job))
        .order_by(runs.c.id, job.c.id)
        # PostgreSQL: rows another replica is claiming are skipped, not waited for. SQLite
        # has one writer at a time, and SQLAlchemy leaves the clause out there.
        .with_for_update(of=job, skip_locked=True)
    )


_CANDIDATES = _candidates()
# PostgreSQL takes the ids as one array: one statement to prepare whatever their number.
_LEASE = {
    "postgresql": update(_table)
    .where(_table.c.id == any_(bindparam("ids", type_=postgresql.ARRAY(Integer))))
    .values(claimed_until=bindparam("until")),
    "sqlite": update(_table)
    .where(_table.c.id.in_(bindparam("ids", expanding=True)))
    .values(claimed_until=bindparam("until")),
}


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
            _pending(),
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
    stmt = sa_select(func.count(_table.c.id)).where(_pending())
    return int(session.connection().execute(stmt).scalar_one())


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
        sa_select(_table.c.platform, func.count(), func.min(_table.c.created_at))
        .where(_pending())
        .group_by(_table.c.platform)
    )
    return {
        str(platform): (int(count), max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        for platform, count, oldest in session.connection().execute(stmt)
    }

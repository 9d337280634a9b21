"""A published kudos' writes, in as few round trips as its guarantees allow.

`claim` records the delivery (its unique key: a second delivery of it is a duplicate) and
reserves the recognition's id, so every row that names the recognition (its recipients,
its audit entry, its posts' keys and data) can be built before anything is written.
`write` then stores the recognition, its recipients, its audit entry, the sprint tallies
and its outbox rows: on PostgreSQL in one statement (a data-modifying CTE over JSON
record sets: one round trip, one plan psycopg prepares once), on SQLite one statement per
table, as the other use cases write. Both leave the same rows (a test compares them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Date, bindparam, delete, func, text
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.models import InboundEvent, LeaderboardTotal, Recognition
from storage.queries import Message, append_audit, enqueue_many, insert_recognition
from storage.types import UTCDateTime

_inbound = InboundEvent.__table__  # type: ignore[attr-defined]
_recognition = Recognition.__table__  # type: ignore[attr-defined]
_total = LeaderboardTotal.__table__  # type: ignore[attr-defined]

# PostgreSQL: the claim and the id in one round trip (an id drawn for a delivery that is
# then refused is simply never used).
_CLAIM_PG = (
    postgresql.insert(_inbound)
    .on_conflict_do_nothing()
    .returning(_inbound.c.id, func.nextval("recognition_id_seq"))
)
_CLAIM_SQLITE = sqlite.insert(_inbound).on_conflict_do_nothing().returning(_inbound.c.id)
# SQLite: the writer holds the database from BEGIN IMMEDIATE to COMMIT, so the next id is
# this transaction's to take.
_NEXT_SQLITE = sa_select(func.coalesce(func.max(_recognition.c.id), 0) + 1)


def claim(*, session: Session, key: str, kind: str) -> int | None:
    """Record the delivery `key`; the id its recognition will have, or None when the
    delivery was handled before."""
    values = {"key": key, "kind": kind, "received_at": datetime.now(UTC)}
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        row = conn.execute(_CLAIM_PG, values).first()
        return None if row is None else int(row[1])
    if conn.execute(_CLAIM_SQLITE, values).first() is None:
        return None
    return int(conn.execute(_NEXT_SQLITE).scalar_one())


def release(*, session: Session, key: str) -> None:
    """Give back the claim of a delivery that was refused: it leaves nothing behind."""
    session.connection().execute(_RELEASE, {"key": key})


_RELEASE = delete(_inbound).where(_inbound.c.key == bindparam("key"))


@dataclass(frozen=True)
class Published:
    """Every row a published kudos adds."""

    recognition: dict[str, Any]  # the recognition's columns, its reserved id among them
    recipients: list[int]
    audit: dict[str, Any]  # actor, action, subject, detail, at
    totals: list[dict[str, Any]]  # sprint, value_tag, member_id and the five counts
    messages: list[Message]


def write(*, session: Session, rows: Published, one_statement: bool | None = None) -> None:
    """Store `rows` in the caller's transaction: in one statement on PostgreSQL (unless
    `one_statement` is False), else one statement per table."""
    dialect = session.connection().dialect.name
    if one_statement if one_statement is not None else dialect == "postgresql":
        _write_postgresql(session, rows)
        return
    insert_recognition(session=session, values=rows.recognition, recipients=rows.recipients)
    append_audit(session=session, **rows.audit)
    if rows.totals:
        session.connection().execute(_ADD[dialect], rows.totals)
    enqueue_many(session=session, messages=rows.messages)


def _adding(module: Any) -> Any:
    stmt = module.insert(_total)
    counts = ("received", "given", "milestone", "points")
    return stmt.on_conflict_do_update(
        index_elements=["sprint", "value_tag", "member_id"],
        set_={name: _total.c[name] + stmt.excluded[name] for name in counts},
    )


_ADD = {"postgresql": _adding(postgresql), "sqlite": _adding(sqlite)}

_WRITE_POSTGRESQL = text(
    """
WITH recognition_row AS (
    INSERT INTO recognition (id, dedupe_key, giver_id, text, text_sha256, value_tags, source,
        platform, workspace, channel_id, reactions, outcome, findings, giver_local_date,
        created_at, private, permalink)
    VALUES (:id, :dedupe_key, :giver_id, :text, :text_sha256, CAST(:value_tags AS json),
        :source, :platform, :workspace, :channel_id, CAST(:reactions AS json), :outcome,
        CAST(:findings AS json), :giver_local_date, :created_at, :private, :permalink)
), recipient_rows AS (
    INSERT INTO recognition_recipient (recognition_id, member_id)
    SELECT :id, m.member FROM unnest(CAST(:recipients AS integer[])) WITH ORDINALITY
        AS m(member, n) ORDER BY m.n
), audit_row AS (
    INSERT INTO audit_entry (at, actor, action, subject, detail)
    VALUES (:audit_at, :actor, :action, :subject, CAST(:detail AS json))
), total_rows AS (
    INSERT INTO leaderboard_total (sprint, value_tag, member_id, received, given, milestone,
        points)
    SELECT t.sprint, t.value_tag, t.member_id, t.received, t.given, t.milestone, t.points
    FROM json_array_elements(CAST(:totals AS json)) WITH ORDINALITY AS e(total, n),
        json_to_record(e.total) AS t(sprint text, value_tag text, member_id integer,
            received integer, given integer, milestone integer, points integer)
    ORDER BY e.n
    ON CONFLICT (sprint, value_tag, member_id) DO UPDATE SET
        received = leaderboard_total.received + excluded.received,
        given = leaderboard_total.given + excluded.given,
        milestone = leaderboard_total.milestone + excluded.milestone,
        points = leaderboard_total.points + excluded.points
)
INSERT INTO outbox (key, platform, workspace, channel, kind, "user", template, data, status,
    attempts, next_attempt_at, created_at)
SELECT o.key, o.platform, o.workspace, o.channel, o.kind, o."user", o.template, o.data,
    'pending', 0, :queued_at, :queued_at
FROM json_to_recordset(CAST(:messages AS json)) AS o(key text, platform text, workspace text,
    channel text, kind text, "user" text, template text, data json)
ON CONFLICT (key) DO NOTHING
"""
).bindparams(
    bindparam("created_at", type_=UTCDateTime()),
    bindparam("audit_at", type_=UTCDateTime()),
    bindparam("queued_at", type_=UTCDateTime()),
    bindparam("giver_local_date", type_=Date()),
)
"""Tallies go in the order they are given (`handlers.sprints` sorts them, for every writer
of totals alike), so two transactions touching the same people take their row locks in
the same order and cannot deadlock on them."""


def _write_postgresql(session: Session, rows: Published) -> None:
    recognition = rows.recognition
    audit = rows.audit
    params = {
        **{k: recognition.get(k) for k in _SCALARS},
        **{k: _json(recognition.get(k, [])) for k in ("value_tags", "reactions", "findings")},
        "giver_local_date": recognition["giver_local_date"],
        "private": bool(recognition.get("private", False)),
        "permalink": recognition.get("permalink"),
        "recipients": rows.recipients,
        "audit_at": audit["at"],
        "actor": audit["actor"],
        "action": audit["action"],
        "subject": audit["subject"],
        "detail": _json(audit["detail"]),
        "totals": _json(rows.totals),
        "messages": _json([vars(m) for m in rows.messages]),
        "queued_at": datetime.now(UTC),  # as `enqueue_many` stamps rows: when they were queued
    }
    session.connection().execute(_WRITE_POSTGRESQL, params)


_SCALARS = (
    "id",
    "dedupe_key",
    "giver_id",
    "text",
    "text_sha256",
    "source",
    "platform",
    "workspace",
    "channel_id",
    "outcome",
    "created_at",
)


def _json(value: Any) -> str:
    return json.dumps(value, default=str)

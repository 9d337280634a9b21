"""Taking back the messages of a retracted kudos, through the outbox.

Each message that may have gone out gets a `delete` row queued after it in its channel;
the dispatcher delivers a channel's rows in the order they were queued, so the delete is
sent once the message has arrived (or has died), never before. A message that never left
is simply no longer owed. Both happen in the transaction that retracts the kudos, so a
kudos is either retracted with every take-back queued, or not at all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, literal_column, or_
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.models import Outbox
from storage.outbox import ROW_REF

_table = Outbox.__table__  # type: ignore[attr-defined]
# The kinds that leave a message in a conversation. An ephemeral message cannot be deleted
# and vanishes by itself; a redraw changes a message that has its own row.
_TAKEN_BACK = ("post", "dm")
_FOUND = (
    sa_select(
        _table.c.id,
        _table.c.key,
        _table.c.kind,
        _table.c.platform,
        _table.c.workspace,
        _table.c.channel,
        _table.c.user,
        _table.c.template,
        _table.c.status,
        _table.c.attempts,
        _table.c.claimed_until,
        _table.c.message_ref,
    )
    .where(
        _table.c.key.like(bindparam("pattern"), escape="/"),
        _table.c.kind.in_(_TAKEN_BACK),
        # A drug-safety notification is the record that drug safety was told: never taken back.
        ~_table.c.template.startswith("pv.", autoescape=True),
        or_(
            _table.c.status == literal_column("'pending'"),
            and_(_table.c.status == "delivered", _table.c.message_ref.is_not(None)),
        ),
    )
    .order_by(_table.c.id)
)
# SQLite compares keys byte by byte: the keys that start with the prefix are exactly those
# from it up to its successor, a range its unique index serves (its LIKE ignores case, and
# no index serves it). PostgreSQL orders keys by the database's collation, in which they
# need not be contiguous: there the LIKE alone decides.
_IN_RANGE = and_(_table.c.key >= bindparam("prefix"), _table.c.key < bindparam("after"))
_FIND = {"sqlite": _FOUND.where(_IN_RANGE), "postgresql": _FOUND}
# Still unclaimed, never tried: it never went out. Checked again as it is deleted, since a
# dispatcher of this replica or another may have claimed it since it was read.
_DELETE_UNSENT = delete(_table).where(
    _table.c.id == bindparam("row_id"),
    _table.c.status == "pending",
    _table.c.claimed_until.is_(None),
    _table.c.attempts == 0,
)
# A second retraction, or two at once, queue nothing more: the delete row's key is unique.
_QUEUE = {
    name: module.insert(_table)
    .on_conflict_do_nothing(index_elements=[_table.c.key])
    .returning(_table.c.id)
    for name, module in (("postgresql", postgresql), ("sqlite", sqlite))
}


def retract(session: Session, *, key_prefix: str, now: datetime) -> int:
    """Take back every outbox message whose key starts with `key_prefix` (e.g.
    "recognition:12:"; the trailing colon keeps recognition 123 out): a row never
    claimed is deleted (it never went out); a row delivered, or claimed and so perhaps
    sent, gets a `delete` row queued after it in the same channel. Returns how many
    delete rows were queued.

    Only posts and DMs are taken back, never a drug-safety notification (`pv.`
    templates), an ephemeral message or a delete; a row that died sent nothing. A row
    tried before and waiting for its retry may have reached the platform (a timeout, an
    answer lost), so it counts as perhaps sent: it goes out again, then is deleted,
    rather than risk leaving a message of a retracted kudos where people see it."""
    if not key_prefix:
        raise ValueError("a retraction names the messages it takes back by a key prefix")
    conn = session.connection()
    dialect = conn.dialect.name
    pattern = key_prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
    params = {"pattern": pattern, "prefix": key_prefix, "after": _successor(key_prefix)}
    owed: list[dict[str, Any]] = []
    for row in conn.execute(_FIND[dialect], params):
        unsent = row.status == "pending" and row.claimed_until is None and row.attempts == 0
        if unsent and conn.execute(_DELETE_UNSENT, {"row_id": row.id}).rowcount == 1:
            continue
        owed.append(_delete_row(row, now))
    if not owed:
        return 0
    return len(conn.execute(_QUEUE[dialect], owed).all())


def _delete_row(row: Any, now: datetime) -> dict[str, Any]:
    """The row that takes back `row`'s message: same place and template, and of its data
    only what `row` was (a `post` or a `dm`: where a sender finds the conversation); the
    claim reads the message's platform id from `row` when it is sent (`storage.outbox`)."""
    return {
        "key": f"{row.key}:delete",
        "platform": row.platform,
        "workspace": row.workspace,
        "channel": row.channel,
        "kind": "delete",
        "user": row.user,
        "template": row.template,
        "data": {"kind": row.kind},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "message_ref": f"{ROW_REF}{row.id}",
    }


def _successor(prefix: str) -> str:
    """The first string after every string that starts with `prefix`, in code point order."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)

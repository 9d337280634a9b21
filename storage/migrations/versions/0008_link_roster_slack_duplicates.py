"""link roster members to the Slack members made for them

A roster row's `slack_id` was stored with no workspace (HR's file names none), while Slack
members were looked up by workspace and user id, so the first time a roster person used
Slack a second member was made for them: no email, team or manager, their survey
invitations out of reach, two rows on the boards. Each such pair (a member holding a Slack
user id with no workspace, and exactly one member holding the same user id in a
workspace) becomes one member: the roster's, now with the workspace, and with everything
that pointed at the other. The audit trail is append-only, so entries that name the
merged member stay as they are; a `member.merged` entry records each merge.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
WRITER_LOCK = 0x504C4155  # the audit chain's advisory lock on PostgreSQL (storage.db)

_PAIRS = sa.text(
    """
    SELECT r.id AS keep, d.id AS gone
    FROM member r JOIN member d ON d.slack_user_id = r.slack_user_id AND d.id <> r.id
    WHERE r.slack_team_id IS NULL AND d.slack_team_id IS NOT NULL
      AND (SELECT COUNT(*) FROM member x
           WHERE x.slack_user_id = r.slack_user_id AND x.slack_team_id IS NOT NULL) = 1
      AND (SELECT COUNT(*) FROM member y
           WHERE y.slack_user_id = r.slack_user_id AND y.slack_team_id IS NULL) = 1
    ORDER BY r.id
    """
)
_TEXT_FIELDS = (
    "slack_team_id",
    "slack_user_id",
    "teams_aad_id",
    "email",
    "timezone",
    "team",
    "region",
    "therapeutic_area",
)
_MEMBER_FIELDS = ", ".join(("id", *_TEXT_FIELDS, "manager_id", "roles"))


def upgrade() -> None:
    conn = op.get_bind()
    pairs = [(int(keep), int(gone)) for keep, gone in conn.execute(_PAIRS)]
    if not pairs:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITER_LOCK})
    for keep, gone in pairs:
        moved = _move_records(conn, keep, gone)
        dropped = _merge_member(conn, keep, gone)
        _audit(conn, keep, gone, moved, dropped)


def downgrade() -> None:
    # Nothing to undo: the merged members were one person, and splitting them again would
    # bring back the duplicates this revision repaired. The schema is unchanged.
    pass


# -- records ----------------------------------------------------------------------------


def _move_records(conn: sa.Connection, keep: int, gone: int) -> dict[str, int]:
    """Point every row of `gone` at `keep`, merging rows that would collide."""
    ids = {"keep": keep, "gone": gone}
    moved: dict[str, int] = {}
    moved["recognition"] = conn.execute(
        sa.text("UPDATE recognition SET giver_id = :keep WHERE giver_id = :gone"), ids
    ).rowcount
    conn.execute(
        sa.text(
            "DELETE FROM recognition_recipient WHERE member_id = :gone AND recognition_id IN "
            "(SELECT recognition_id FROM recognition_recipient WHERE member_id = :keep)"
        ),
        ids,
    )
    moved["recognition_recipient"] = conn.execute(
        sa.text("UPDATE recognition_recipient SET member_id = :keep WHERE member_id = :gone"), ids
    ).rowcount
    moved["leaderboard_total"] = _add_up(
        conn,
        "leaderboard_total",
        ("sprint", "value_tag"),
        ("received", "given", "milestone", "points"),
        ids,
    )
    moved["milestone_share"] = _add_up(conn, "milestone_share", ("award_id",), ("points",), ids)
    moved["survey_invite"] = _merge_invites(conn, ids)
    moved["survey_answer"] = _merge_answers(conn, ids)
    moved["pv_case"] = conn.execute(
        sa.text("UPDATE pv_case SET reporter_member_id = :keep WHERE reporter_member_id = :gone"),
        ids,
    ).rowcount
    conn.execute(
        sa.text("UPDATE member SET manager_id = NULL WHERE id = :keep AND manager_id = :gone"), ids
    )
    moved["managed"] = conn.execute(
        sa.text("UPDATE member SET manager_id = :keep WHERE manager_id = :gone"), ids
    ).rowcount
    names = {"keep": f"member:{keep}", "gone": f"member:{gone}"}
    conn.execute(
        sa.text("UPDATE review SET requested_by = :keep WHERE requested_by = :gone"), names
    )
    conn.execute(
        sa.text("UPDATE survey_round SET opened_by = :keep WHERE opened_by = :gone"), names
    )
    moved["outbox"] = _rekey_outbox(conn, keep, gone)
    return moved


def _add_up(
    conn: sa.Connection,
    table: str,
    key: tuple[str, ...],
    counts: tuple[str, ...],
    ids: dict[str, int],
) -> int:
    """Rows unique per (key, member): `gone`'s counts are added to `keep`'s row for the
    same key, or its row is handed over when `keep` has none."""
    columns = ", ".join((*key, *counts))
    rows = conn.execute(
        sa.text(f"SELECT id, {columns} FROM {table} WHERE member_id = :gone"), ids
    ).all()
    match = " AND ".join(f"{k} = :{k}" for k in key)
    for row in rows:
        values = dict(row._mapping)
        mine = conn.execute(
            sa.text(f"SELECT id FROM {table} WHERE member_id = :keep AND {match}"),
            {"keep": ids["keep"], **{k: values[k] for k in key}},
        ).scalar()
        if mine is None:
            conn.execute(
                sa.text(f"UPDATE {table} SET member_id = :keep WHERE id = :id"),
                {"keep": ids["keep"], "id": values["id"]},
            )
            continue
        sets = ", ".join(f"{c} = {c} + :{c}" for c in counts)
        conn.execute(
            sa.text(f"UPDATE {table} SET {sets} WHERE id = :id"),
            {"id": mine, **{c: values[c] for c in counts}},
        )
        conn.execute(sa.text(f"DELETE FROM {table} WHERE id = :id"), {"id": values["id"]})
    return len(rows)


def _merge_invites(conn: sa.Connection, ids: dict[str, int]) -> int:
    """One invitation per round: when both were invited, the one kept took part if either
    did, was sent and reminded as early and as often as either."""
    rows = conn.execute(
        sa.text(
            "SELECT id, round_id, send_at, sent_at, reminders_sent, last_reminded_at, responded "
            "FROM survey_invite WHERE member_id = :gone"
        ),
        ids,
    ).all()
    for row in rows:
        mine = conn.execute(
            sa.text(
                "SELECT id, send_at, sent_at, reminders_sent, last_reminded_at, responded "
                "FROM survey_invite WHERE member_id = :keep AND round_id = :round"
            ),
            {"keep": ids["keep"], "round": row.round_id},
        ).first()
        if mine is None:
            conn.execute(
                sa.text("UPDATE survey_invite SET member_id = :keep WHERE id = :id"),
                {"keep": ids["keep"], "id": row.id},
            )
            continue
        conn.execute(sa.text("DELETE FROM survey_invite WHERE id = :id"), {"id": row.id})
        conn.execute(
            sa.text(
                "UPDATE survey_invite SET send_at = :send_at, sent_at = :sent_at, "
                "reminders_sent = :reminders, last_reminded_at = :reminded, "
                "responded = :responded WHERE id = :id"
            ),
            {
                "id": mine.id,
                "send_at": min(mine.send_at, row.send_at),
                "sent_at": _earliest(mine.sent_at, row.sent_at),
                "reminders": max(mine.reminders_sent, row.reminders_sent),
                "reminded": _latest(mine.last_reminded_at, row.last_reminded_at),
                "responded": bool(mine.responded or row.responded),
            },
        )
    return len(rows)


def _earliest(a: Any, b: Any) -> Any:
    return min(x for x in (a, b) if x is not None) if (a or b) else None


def _latest(a: Any, b: Any) -> Any:
    return max(x for x in (a, b) if x is not None) if (a or b) else None


def _merge_answers(conn: sa.Connection, ids: dict[str, int]) -> int:
    """Answers are per (round, respondent, question). A named round knows its respondent as
    `member:ID`; an open anonymous round as a keyed hash of the id (a closed one has lost
    its key, and its answers point at nobody). Where both answered, the later answer stays,
    as when one person changes their mind."""
    rounds = conn.execute(
        sa.text(
            "SELECT id, anonymous, salt FROM survey_round WHERE NOT anonymous OR salt IS NOT NULL"
        )
    ).all()
    changed = 0
    for round_ in rounds:
        old = _respondent(round_.anonymous, round_.salt, ids["gone"])
        new = _respondent(round_.anonymous, round_.salt, ids["keep"])
        rows = conn.execute(
            sa.text(
                "SELECT id, question_id FROM survey_answer "
                "WHERE round_id = :round AND respondent = :old"
            ),
            {"round": round_.id, "old": old},
        ).all()
        for row in rows:
            mine = conn.execute(
                sa.text(
                    "SELECT id FROM survey_answer WHERE round_id = :round "
                    "AND respondent = :new AND question_id = :question"
                ),
                {"round": round_.id, "new": new, "question": row.question_id},
            ).scalar()
            if mine is not None and mine > row.id:
                conn.execute(sa.text("DELETE FROM survey_answer WHERE id = :id"), {"id": row.id})
                continue
            if mine is not None:
                conn.execute(sa.text("DELETE FROM survey_answer WHERE id = :id"), {"id": mine})
            conn.execute(
                sa.text(
                    "UPDATE survey_answer SET respondent = :new, member_id = "
                    "CASE WHEN member_id IS NULL THEN NULL ELSE :keep END WHERE id = :id"
                ),
                {"new": new, "keep": ids["keep"], "id": row.id},
            )
            changed += 1
    conn.execute(sa.text("UPDATE survey_answer SET member_id = :keep WHERE member_id = :gone"), ids)
    return changed


def _respondent(anonymous: bool, salt: str | None, member_id: int) -> str:
    if not anonymous:
        return f"member:{member_id}"
    assert salt is not None
    return hmac.new(bytes.fromhex(salt), str(member_id).encode(), hashlib.sha256).hexdigest()


def _rekey_outbox(conn: sa.Connection, keep: int, gone: int) -> int:
    """Outbox keys that name the member (a kudos DM, a survey invitation or reminder) name
    the kept one, so a message already queued is not queued again under the new id."""
    rows = conn.execute(
        sa.text("SELECT id, key FROM outbox WHERE key LIKE :dm OR key LIKE :survey"),
        {"dm": f"recognition:%:dm:{gone}", "survey": f"survey:%:{gone}:%"},
    ).all()
    done = 0
    for row in rows:
        parts = str(row.key).split(":")
        at = 3 if parts[0] == "recognition" else 2
        if len(parts) <= at or parts[at] != str(gone):
            continue
        parts[at] = str(keep)
        key = ":".join(parts)
        taken = conn.execute(sa.text("SELECT 1 FROM outbox WHERE key = :key"), {"key": key})
        if taken.first() is None:
            conn.execute(
                sa.text("UPDATE outbox SET key = :key WHERE id = :id"), {"key": key, "id": row.id}
            )
            done += 1
    return done


# -- the member -------------------------------------------------------------------------


def _member(conn: sa.Connection, member_id: int) -> Any:
    return conn.execute(
        sa.text(f"SELECT {_MEMBER_FIELDS} FROM member WHERE id = :id"), {"id": member_id}
    ).one()


def _merge_member(conn: sa.Connection, keep: int, gone: int) -> dict[str, Any]:
    """The roster's member takes the workspace (and what else it lacks) from the other,
    which is deleted; returns what could not be kept (an email or Teams id the roster's
    member already has another of)."""
    mine, theirs = _member(conn, keep), _member(conn, gone)
    values: dict[str, Any] = {"slack_team_id": theirs.slack_team_id}
    for field in ("teams_aad_id", "email", "manager_id", "team", "region", "therapeutic_area"):
        if getattr(mine, field) is None and getattr(theirs, field) is not None:
            values[field] = getattr(theirs, field)
    if mine.timezone == "UTC" and theirs.timezone and theirs.timezone != "UTC":
        values["timezone"] = theirs.timezone
    if values.get("manager_id") == keep:
        del values["manager_id"]
    roles = sorted(set(_roles(mine.roles)) | set(_roles(theirs.roles)))
    if roles != sorted(_roles(mine.roles)):
        values["roles"] = roles
    dropped = {
        field: getattr(theirs, field)
        for field in ("email", "teams_aad_id")
        if getattr(theirs, field) not in (None, getattr(mine, field)) and field not in values
    }
    conn.execute(sa.text("DELETE FROM member WHERE id = :id"), {"id": gone})
    member = sa.table(
        "member",
        sa.column("id", sa.Integer()),
        *(sa.column(name, sa.String()) for name in _TEXT_FIELDS),
        sa.column("manager_id", sa.Integer()),
        sa.column("roles", sa.JSON()),
    )
    conn.execute(member.update().where(member.c.id == keep).values(**values))
    return dropped


def _roles(value: Any) -> list[str]:
    found = json.loads(value) if isinstance(value, str) else value
    return [str(r) for r in found or []]


# -- the audit trail --------------------------------------------------------------------


def _audit(
    conn: sa.Connection, keep: int, gone: int, moved: dict[str, int], dropped: dict[str, Any]
) -> None:
    """Append `member.merged` to the hash chain, hashed as the application hashes entries."""
    at = datetime.now(UTC).replace(microsecond=0)
    kept = _member(conn, keep)
    detail = {
        "merged": gone,
        "slack": f"{kept.slack_team_id}/{kept.slack_user_id}",
        "moved": {k: v for k, v in moved.items() if v},
        "not_kept": dropped,
    }
    prev = (
        conn.execute(sa.text("SELECT hash FROM audit_entry ORDER BY id DESC LIMIT 1")).scalar()
        or GENESIS
    )
    fields = {
        "at": at,
        "actor": "migration:0008",
        "action": "member.merged",
        "subject": f"member:{keep}",
        "detail": detail,
    }
    body = json.dumps(
        {"prev": prev, **fields, "at": at.isoformat()},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    entry = sa.table(
        "audit_entry",
        sa.column("at", sa.DateTime()),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("subject", sa.String()),
        sa.column("detail", sa.JSON()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    conn.execute(
        entry.insert().values(
            **{**fields, "at": at.replace(tzinfo=None)},
            prev_hash=prev,
            hash=hashlib.sha256(body.encode()).hexdigest(),
        )
    )

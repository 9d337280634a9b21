"""Retracting a kudos's messages through the outbox (`storage.outbox_retract.retract`): what
never went out is no longer owed, what may have gone out gets one `delete` row after it in
its channel, claimed only once the original is done, with the original's platform id."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, event
from sqlmodel import Session, col, select

from storage import outbox
from storage.models import Outbox
from storage.outbox_retract import retract

NOW = datetime.fromisoformat("2026-11-24T10:00:00+00:00")
LEASE = timedelta(seconds=120)
PREFIX = "recognition:12:"


def add(session: Session, key: str, *, status: str = "pending", **kw: Any) -> Outbox:
    """A row as a kudos queues it: its public post unless `kw` says otherwise."""
    values: dict[str, Any] = {
        "platform": "slack",
        "workspace": "T0001",
        "channel": "C0KUDOS",
        "kind": "post",
        "template": "kudos.public",
        "data": {"recognition_id": 12},
        "next_attempt_at": NOW - timedelta(minutes=1),
        "created_at": NOW - timedelta(minutes=1),
    }
    row = Outbox(key=key, status=status, **(values | kw))
    session.add(row)
    session.commit()
    return row


def dm(session: Session, key: str, user: str, **kw: Any) -> Outbox:
    return add(session, key, **({"channel": user, "kind": "dm", "template": "kudos.received"} | kw))


def rows(session: Session) -> dict[str, Outbox]:
    session.expire_all()
    return {r.key: r for r in session.exec(select(Outbox).order_by(col(Outbox.id)))}


def claim(session: Session, *, at: datetime = NOW) -> list[outbox.Job]:
    jobs = outbox.claim(
        session,
        platforms=["slack", "teams"],
        busy=[],
        room=16,
        per_channel=5,
        now=at,
        lease=LEASE,
    )
    session.commit()
    return jobs


def delivered(session: Session, job: outbox.Job, ref: str | None) -> None:
    outbox.mark_delivered(session, [{"row_id": job.id, "ref": ref, "at": NOW}])
    session.commit()


def test_rows_never_claimed_are_deleted_and_nothing_is_queued(session: Session) -> None:
    add(session, f"{PREFIX}public")
    dm(session, f"{PREFIX}dm:2", "U0002")
    dm(session, f"{PREFIX}manager:7", "U0007", template="notice")
    # Put off by a 429, never tried: it has not gone out either.
    dm(session, f"{PREFIX}dm:3", "U0003", next_attempt_at=NOW + timedelta(seconds=30))

    assert retract(session, key_prefix=PREFIX, now=NOW) == 0
    session.commit()

    assert rows(session) == {}
    assert claim(session) == []


def test_each_delivered_message_gets_one_delete_row_in_its_own_channel(session: Session) -> None:
    public = add(session, f"{PREFIX}public", status="delivered", message_ref="1700.000101")
    to_bob = dm(session, f"{PREFIX}dm:2", "U0002", status="delivered", message_ref="1700.000102")
    manager = dm(
        session,
        f"{PREFIX}manager:7",
        "a1b2-aad",
        platform="teams",
        workspace="tenant-1",
        template="notice",
        status="delivered",
        message_ref="1:activity-9",
    )

    assert retract(session, key_prefix=PREFIX, now=NOW) == 3
    session.commit()

    found = rows(session)
    for original in (public, to_bob, manager):
        taken_back = found[f"{original.key}:delete"]
        assert taken_back.kind == "delete" and taken_back.status == "pending"
        assert taken_back.message_ref == f"row:{original.id}"
        assert (taken_back.platform, taken_back.workspace, taken_back.channel) == (
            original.platform,
            original.workspace,
            original.channel,
        )
        assert (taken_back.user, taken_back.template) == (original.user, original.template)
        assert taken_back.attempts == 0 and taken_back.next_attempt_at == NOW
        # Of the data only what the original was, not the kudos's words.
        assert taken_back.data == {"kind": original.kind}
        assert found[original.key].status == "delivered"  # the original is left as it was

    jobs = {job.key: job for job in claim(session)}
    assert set(jobs) == {f"{r.key}:delete" for r in (public, to_bob, manager)}
    assert jobs[f"{PREFIX}public:delete"].ref == "1700.000101"
    assert jobs[f"{PREFIX}dm:2:delete"].ref == "1700.000102"
    assert jobs[f"{PREFIX}manager:7:delete"].ref == "1:activity-9"
    assert all(job.kind == "delete" for job in jobs.values())


def test_a_second_retraction_queues_nothing_more(session: Session) -> None:
    add(session, f"{PREFIX}public", status="delivered", message_ref="1700.000101")
    assert retract(session, key_prefix=PREFIX, now=NOW) == 1
    session.commit()
    before = {k: (r.id, r.status) for k, r in rows(session).items()}

    assert retract(session, key_prefix=PREFIX, now=NOW + timedelta(minutes=5)) == 0
    session.commit()
    assert {k: (r.id, r.status) for k, r in rows(session).items()} == before
    # Nor once the delete has been sent.
    (job,) = claim(session)
    delivered(session, job, None)
    assert retract(session, key_prefix=PREFIX, now=NOW + timedelta(minutes=10)) == 0
    session.commit()
    assert len(rows(session)) == 2


def test_other_rows_are_left_alone(session: Session) -> None:
    sent = {"status": "delivered", "message_ref": "1700.000001"}
    others = [
        add(session, "recognition:1:public", **sent),
        add(session, "recognition:123:public", **sent),
        add(session, "recognition:120:public"),
        dm(session, "recognition:1:dm:2", "U0002"),
        # Keys the prefix's LIKE wildcards would match if they were not escaped.
        add(session, "a_b%:public", **sent),
        add(session, "axbyz:public", **sent),
        # A drug-safety notification, even under the prefix.
        add(session, f"{PREFIX}pv", template="pv.alert", **sent),
        add(session, f"{PREFIX}pv-waiting", template="pv.alert"),
        # An ephemeral message cannot be deleted, and one still waiting is not ours to drop.
        add(session, f"{PREFIX}note", kind="ephemeral", user="U0001", message_ref="1700.9"),
        add(session, f"{PREFIX}note-waiting", kind="ephemeral", user="U0001"),
        # A row that died sent nothing; a delivered one with no platform id left nothing known.
        dm(session, f"{PREFIX}dm:5", "U0005", status="dead", attempts=8),
        dm(session, f"{PREFIX}dm:6", "U0006", status="delivered"),
        # A delete queued before is not itself taken back.
        add(session, f"{PREFIX}old:delete", kind="delete", message_ref="row:999"),
    ]
    before = {r.key: (r.id, r.status, r.message_ref) for r in others}

    assert retract(session, key_prefix=PREFIX, now=NOW) == 0
    assert retract(session, key_prefix="a_b%:", now=NOW) == 1
    session.commit()

    after = rows(session)
    assert {k: (r.id, r.status, r.message_ref) for k, r in after.items() if k in before} == before
    assert set(after) - set(before) == {"a_b%:public:delete"}


def test_a_message_in_flight_is_deleted_once_it_has_arrived(session: Session) -> None:
    add(session, f"{PREFIX}public")
    dm(session, f"{PREFIX}dm:2", "U0002")
    in_flight = claim(session)
    assert len(in_flight) == 2

    assert retract(session, key_prefix=PREFIX, now=NOW) == 2
    session.commit()

    # While the originals are leased, their channels wait: no delete goes before them.
    assert claim(session, at=NOW + timedelta(seconds=1)) == []
    by_key = {job.key: job for job in in_flight}
    delivered(session, by_key[f"{PREFIX}public"], "1700.000201")
    delivered(session, by_key[f"{PREFIX}dm:2"], "1700.000202")
    jobs = {job.key: job.ref for job in claim(session, at=NOW + timedelta(seconds=2))}
    assert jobs == {f"{PREFIX}public:delete": "1700.000201", f"{PREFIX}dm:2:delete": "1700.000202"}


def test_a_row_tried_before_counts_as_perhaps_sent(session: Session) -> None:
    """A timeout may have reached Slack: the row is sent again, then deleted."""
    tried = add(session, f"{PREFIX}public", attempts=1, last_error="TimeoutError")

    assert retract(session, key_prefix=PREFIX, now=NOW) == 1
    session.commit()

    (first,) = claim(session)
    assert first.id == tried.id  # the delete waits behind it in the same claim
    delivered(session, first, "1700.000301")
    (second,) = claim(session)
    assert (second.kind, second.ref) == ("delete", "1700.000301")


def test_the_delete_is_claimed_only_after_its_original_in_the_channel(session: Session) -> None:
    # Claimed by a replica that died: its lease ran out, so the next claim may take it, and
    # the delete row behind it, in one go; the delete must wait for the original's outcome.
    add(session, f"{PREFIX}public", claimed_until=NOW - timedelta(seconds=1))
    add(session, "recognition:13:public")
    assert retract(session, key_prefix=PREFIX, now=NOW) == 1
    session.commit()
    add(session, "recognition:14:public")

    first = claim(session)
    assert [job.key for job in first] == [f"{PREFIX}public", "recognition:13:public"]
    assert first[0].uncertain
    for job in first:
        delivered(session, job, f"ts-{job.id}")
    second = claim(session)
    assert [(job.key, job.ref) for job in second] == [
        (f"{PREFIX}public:delete", f"ts-{first[0].id}"),
        ("recognition:14:public", None),
    ]


def test_a_delete_whose_original_died_or_went_has_nothing_to_take_back(
    session: Session,
) -> None:
    add(session, f"{PREFIX}public")
    dm(session, f"{PREFIX}dm:2", "U0002")
    jobs = {job.key: job for job in claim(session)}
    assert retract(session, key_prefix=PREFIX, now=NOW) == 2
    session.commit()

    outbox.mark_dead(session, row_id=jobs[f"{PREFIX}public"].id, error="channel_not_found")
    session.delete(session.get(Outbox, jobs[f"{PREFIX}dm:2"].id))
    session.commit()

    taken_back = {job.key: job.ref for job in claim(session)}
    assert taken_back == {f"{PREFIX}public:delete": None, f"{PREFIX}dm:2:delete": None}


@contextmanager
def claimed_meanwhile(session: Session, row_id: int) -> Iterator[None]:
    """A dispatcher claims row `row_id` between the retraction reading it and deleting it."""
    connection: Connection = session.connection()

    def claim_first(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM OUTBOX"):
            until = (NOW + LEASE).strftime("%Y-%m-%d %H:%M:%S")
            cursor.execute(f"UPDATE outbox SET claimed_until = '{until}' WHERE id = {row_id}")

    event.listen(connection, "before_cursor_execute", claim_first)
    try:
        yield
    finally:
        event.remove(connection, "before_cursor_execute", claim_first)


def test_a_row_claimed_while_being_retracted_counts_as_in_flight(session: Session) -> None:
    row = add(session, f"{PREFIX}public")
    assert row.id is not None

    with claimed_meanwhile(session, row.id):
        assert retract(session, key_prefix=PREFIX, now=NOW) == 1
    session.commit()

    found = rows(session)
    assert found[f"{PREFIX}public"].claimed_until is not None
    assert found[f"{PREFIX}public:delete"].message_ref == f"row:{row.id}"

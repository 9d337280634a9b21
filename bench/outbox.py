"""Benchmark: outbox claims among millions of delivered rows, against the claim as it was
before `ix_outbox_pending`; and the retention purge's batches.

A private PostgreSQL schema is migrated and filled by the server itself (`generate_series`,
no ORM): N delivered rows of the last two years over many channels, and 500 pending rows
over 50 channels, then VACUUM ANALYZE. `storage.outbox.claim`, as a dispatcher pass runs it
(16 channels, 5 rows each), is timed `--claims` times, in four rounds each after a fresh
ANALYZE (the plan can change with the sample), each claim rolled back so the pending rows
stay as they were. Then, as peers: the same claim with `ix_outbox_pending` dropped; and the
claim as Plaudit ran it before revision 0009 (one statement for the heads, then one per
channel) on the table as it was (`ix_outbox_channel_order` put back, pages packed full). Last, the
purge's first batches (`retention.purge_outbox`, each in its own transaction) are timed: a
batch is as long as the purge holds its locks. Targets: claim p95 under 5 ms; purge batch
p95 under 250 ms.

    python bench/outbox.py [--database-url URL] [--delivered 2000000] [--pending 500]
                           [--claims 200] [--purge-batches 50]

`--database-url` defaults to PLAUDIT_BENCH_DATABASE_URL, else PLAUDIT_TEST_DATABASE_URL.
Without a PostgreSQL URL the benchmark says so and exits 0: it measures PostgreSQL's
planner, which SQLite does not have. The schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import (  # noqa: E402
    Engine,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlmodel import Session  # noqa: E402

from bench.common import emit, exit_on_sigterm, private_schema  # noqa: E402
from handlers import retention  # noqa: E402
from storage import migrate, outbox  # noqa: E402
from storage.models import Outbox  # noqa: E402

CLAIM_TARGET_MS = 5.0
BATCH_TARGET_MS = 250.0
ROOM, PER_CHANNEL, PENDING_CHANNELS = 16, 5, 50
ROUNDS = 4  # fresh statistics for each quarter of the claims
# A quarter of the history are public kudos posts (kept by the purge), the rest DMs.
_FILL_DELIVERED = text(
    """
    INSERT INTO outbox (key, platform, workspace, channel, kind, template, data, status,
                        attempts, next_attempt_at, created_at, delivered_at, message_ref)
    SELECT 'bench:' || n, 'slack', 'T0001', 'D' || (n % 5000),
           CASE WHEN n % 4 = 0 THEN 'post' ELSE 'dm' END,
           CASE WHEN n % 4 = 0 THEN 'kudos.public' ELSE 'kudos.received' END,
           '{"recognition_id": 1, "message": "thanks for the site activation email"}'::json,
           'delivered', 1, at, at, at, '1700000000.' || n
    FROM generate_series(1, :rows) AS n,
         LATERAL (SELECT :now - (:rows - n) * (interval '2 years' / :rows) AS at) AS t
    """
)
_FILL_PENDING = text(
    """
    INSERT INTO outbox (key, platform, workspace, channel, kind, template, data, status,
                        attempts, next_attempt_at, created_at)
    SELECT 'bench:pending:' || n, 'slack', 'T0001', 'C' || (n % :channels), 'post',
           'notice', '{"text": "thanks"}'::json, 'pending', 0, :now - interval '1 minute', :now
    FROM generate_series(1, :rows) AS n
    """
)


def postgres_url(given: str | None) -> str | None:
    for url in (given, *(os.environ.get(v) for v in _URL_VARIABLES)):
        if url and url.strip().startswith("postgres"):
            return url.strip()
    return None


_URL_VARIABLES = ("PLAUDIT_BENCH_DATABASE_URL", "PLAUDIT_TEST_DATABASE_URL")


@contextmanager
def postgres_schema(url: str) -> Iterator[Engine]:
    """A migrated private schema, dropped afterwards."""
    with private_schema(url) as (schema, where):
        options = {"options": f"-csearch_path={schema}"}
        engine = create_engine(where, connect_args=options)
        try:
            migrate.upgrade(engine)
            yield engine
        finally:
            engine.dispose()


def fill(engine: Engine, delivered: int, pending: int, now: datetime) -> None:
    began = time.perf_counter()
    naive = now.astimezone(UTC).replace(tzinfo=None)  # the columns hold naive UTC
    with engine.begin() as conn:
        conn.execute(_FILL_DELIVERED, {"rows": delivered, "now": naive})
        conn.execute(_FILL_PENDING, {"rows": pending, "channels": PENDING_CHANNELS, "now": naive})
    print(
        f"filled {delivered:,} delivered and {pending:,} pending rows in "
        f"{time.perf_counter() - began:.1f} s"
    )
    vacuum_analyze(engine)


def vacuum_analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE outbox"))


Claim = Callable[..., list[Any]]


def claim_before(
    session: Session,
    *,
    platforms: list[str],
    busy: list[str],
    room: int,
    per_channel: int,
    now: datetime,
    lease: timedelta,
) -> list[int]:
    """The claim as Plaudit ran it before revision 0009, for the baseline: the due heads
    in one statement (LIMIT `room`, by id), then each channel's first rows in one more."""
    t = Outbox.__table__  # type: ignore[attr-defined]
    heads = (
        select(t.c.platform, t.c.channel, func.min(t.c.id).label("first"))
        .where(t.c.status == "pending", t.c.platform.in_(platforms))
        .group_by(t.c.platform, t.c.channel)
        .subquery()
    )
    ready = (
        select(t.c.id, t.c.platform, t.c.channel)
        .join(heads, t.c.id == heads.c.first)
        .where(
            t.c.next_attempt_at <= now, or_(t.c.claimed_until.is_(None), t.c.claimed_until < now)
        )
        .order_by(t.c.id)
        .limit(room)
    )
    if busy:
        ready = ready.where(t.c.channel.not_in(busy))
    conn = session.connection()
    taken: list[int] = []
    for head, platform, channel in conn.execute(ready).all():
        rows = (
            select(t.c.id, t.c.next_attempt_at, t.c.claimed_until)
            .where(t.c.platform == platform, t.c.channel == channel)
            .where(t.c.status == "pending", t.c.id >= head)
            .order_by(t.c.id)
            .limit(per_channel)
            .with_for_update(skip_locked=True)
        )
        for i, row in enumerate(conn.execute(rows)):
            leased = row.claimed_until is not None and row.claimed_until >= now
            if (i == 0 and row.id != head) or row.next_attempt_at > now or leased:
                break
            taken.append(row.id)
    if taken:
        conn.execute(update(t).where(t.c.id.in_(taken)).values(claimed_until=now + lease))
    return taken


def claim_once(engine: Engine, now: datetime, claim: Claim = outbox.claim) -> tuple[float, int]:
    """Milliseconds of one claim (from its first statement to its lease), and its jobs;
    rolled back, so the next claim finds the same rows."""
    with Session(engine) as session:
        began = time.perf_counter()
        jobs = claim(
            session,
            platforms=["slack", "teams"],
            busy=[],
            room=ROOM,
            per_channel=PER_CHANNEL,
            now=now,
            lease=timedelta(seconds=120),
        )
        took = (time.perf_counter() - began) * 1000
        session.rollback()
    return took, len(jobs)


def measure_claims(
    engine: Engine, claims: int, now: datetime, claim: Claim = outbox.claim
) -> list[float]:
    """Milliseconds of `claims` claims, in ROUNDS rounds, each after a fresh ANALYZE:
    which plan PostgreSQL picks can change with the rows its sample happened to read."""
    samples = []
    for _ in range(ROUNDS):
        with engine.begin() as conn:
            conn.execute(text("ANALYZE outbox"))
        for _ in range(10):  # warm the pool, the prepared statements and the pages
            claim_once(engine, now, claim)
        for _ in range(claims // ROUNDS):
            took, jobs = claim_once(engine, now, claim)
            if jobs != ROOM * PER_CHANNEL:
                raise SystemExit(f"a claim took {jobs} rows, not {ROOM * PER_CHANNEL}")
            samples.append(took)
    return samples


def indexes_read(engine: Engine, now: datetime) -> str:
    """The indexes in the plan of the claim's reading statement."""
    sent: list[tuple[str, Any]] = []

    def keep(_c: object, _k: object, statement: str, params: object, *_: object) -> None:
        if statement.lstrip().startswith(("SELECT", "WITH")) and not sent:
            sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        claim_once(engine, now)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    statement, params = sent[0]
    with engine.connect() as conn:
        plan = [str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + statement, params)]
    used = sorted({w for line in plan for w in line.split() if w.startswith(("ix_", "pk_"))})
    scans = " + seq scan" if any("Seq Scan on outbox" in line for line in plan) else ""
    return ", ".join(used) + scans


def measure_purge(engine: Engine, batches: int, now: datetime) -> list[float]:
    """Milliseconds of each of the purge's first `batches` batches, commit included."""
    policy = retention.Retention(outbox_days=30)
    samples, after = [], 0
    for _ in range(batches):
        began = time.perf_counter()
        with Session(engine) as session:
            done = retention.purge_outbox(session, retention=policy, now=now, after=after)
            session.commit()
        samples.append((time.perf_counter() - began) * 1000)
        if done.resume_after is None:
            break
        after = done.resume_after
    return samples


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(label: str, samples: list[float], extra: str = "") -> None:
    print(
        f"{label:<38}p50 {pct(samples, 0.5):8.2f} ms  p95 {pct(samples, 0.95):8.2f} ms  "
        f"mean {statistics.fmean(samples):8.2f} ms  {extra}"
    )


def index_size(engine: Engine, name: str) -> str:
    with engine.connect() as conn:
        size = text("SELECT pg_size_pretty(pg_relation_size(to_regclass(:n)))")
        return f"{name} {conn.execute(size, {'n': name}).scalar_one()}"


def ddl(engine: Engine, statement: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement))
    vacuum_analyze(engine)


def run(engine: Engine, args: argparse.Namespace) -> None:
    now = datetime.now(UTC)
    fill(engine, args.delivered, args.pending, now)
    used = indexes_read(engine, now)
    plaudit = measure_claims(engine, args.claims, now)
    line("claim", plaudit, used)
    sizes = [index_size(engine, "ix_outbox_pending")]
    ddl(engine, "DROP INDEX ix_outbox_pending")
    used = indexes_read(engine, now)
    dropped = measure_claims(engine, args.claims, now)
    line("claim, ix_outbox_pending dropped", dropped, used)
    # The table as it was: its pages packed full again, the index the claim relied on.
    ddl(engine, "ALTER TABLE outbox RESET (fillfactor)")
    ddl(engine, "CREATE INDEX ix_outbox_channel_order ON outbox (platform, channel, status, id)")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM FULL outbox"))
    sizes.append(index_size(engine, "ix_outbox_channel_order"))
    before = measure_claims(engine, args.claims, now, claim_before)
    line("claim before revision 0009", before, "its indexes")
    print(f"index sizes: {'; '.join(sizes)} (the one it replaced)")
    batches = measure_purge(engine, args.purge_batches, now)
    line(f"purge, {len(batches)} batches of {retention.OUTBOX_BATCH:,}", batches)
    rows = f"{args.delivered / 1e6:g}M delivered rows"
    target = f"p95 < {CLAIM_TARGET_MS:g} ms"
    p95 = pct(plaudit, 0.95)
    for name, peer in (("the index dropped", dropped), ("the claim before 0009", before)):
        emit(
            f"outbox claim p95 ms, PostgreSQL, {rows}; peer: {name}",
            p95,
            pct(peer, 0.95),
            target,
            p95 < CLAIM_TARGET_MS,
        )
    emit(
        f"outbox claim p50 ms, PostgreSQL, {rows}; peer: the claim before 0009",
        pct(plaudit, 0.5),
        pct(before, 0.5),
        "-",
        True,
    )
    batch95 = pct(batches, 0.95)
    emit(
        f"outbox purge batch p95 ms, PostgreSQL, {rows}",
        batch95,
        None,
        f"p95 < {BATCH_TARGET_MS:g} ms",
        batch95 < BATCH_TARGET_MS,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="a PostgreSQL URL; a private schema is used")
    parser.add_argument("--delivered", type=int, default=2_000_000)
    parser.add_argument("--pending", type=int, default=500)
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--purge-batches", type=int, default=50)
    args = parser.parse_args()
    if args.pending < PENDING_CHANNELS * PER_CHANNEL:
        parser.error(
            f"--pending must be at least {PENDING_CHANNELS * PER_CHANNEL}, so that every "
            f"claim takes {ROOM * PER_CHANNEL} rows"
        )
    url = postgres_url(args.database_url)
    if url is None:
        print(
            "skipped: no PostgreSQL URL (--database-url, PLAUDIT_BENCH_DATABASE_URL or "
            "PLAUDIT_TEST_DATABASE_URL); the outbox benchmark measures PostgreSQL only"
        )
        return 0
    exit_on_sigterm()
    began = time.perf_counter()
    with postgres_schema(url) as engine:
        run(engine, args)
    print(f"total {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

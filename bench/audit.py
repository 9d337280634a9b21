"""Benchmark: the audit sealer's throughput and the time `verify` takes, on a trail of N
entries, each against the least the same work can cost on the same database.

The database itself writes N unsealed entries (a recursive CTE on SQLite,
`generate_series` on PostgreSQL). Then `storage.audit.seal_all` seals them, a batch of
5,000 per transaction, as the sealer does after an outage; its peer is one set-based
UPDATE that gives every row a place with no chain and no key (what writing the places
costs). Then `storage.audit_verify.verify` proves every entry; its peer reads the same
columns of every row, streamed the same way (what reading the trail costs). Targets:
sealing at least 10,000 entries a second (a busy server appends about a thousand); verify
of 1,000,000 entries within 120 s.

    python bench/audit.py [--database-url URL] [--entries 1000000]

Without `--database-url` (or PLAUDIT_BENCH_DATABASE_URL) a SQLite file in a temporary
directory is used; a PostgreSQL URL gets a private schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, event, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.common import emit, exit_on_sigterm, private_schema  # noqa: E402
from storage import migrate  # noqa: E402
from storage.audit import AuditKey, new_key, seal_all  # noqa: E402
from storage.audit_verify import verify  # noqa: E402
from storage.db import make_engine  # noqa: E402

SEAL_TARGET = 10_000.0  # entries a second
VERIFY_TARGET = 120.0  # seconds for 1,000,000 entries

_FILL_SQLITE = """
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n)
INSERT INTO audit_entry (at, actor, action, subject, detail)
SELECT '2026-12-01 12:00:00.000000', 'member:' || (n % 5000), 'kudos.pass',
       'recognition:' || n, json_object('recipients', json_array(n % 4999), 'values',
       json_array('#teamwork'), 'outcome', 'pass')
FROM g
"""
_FILL_POSTGRES = """
INSERT INTO audit_entry (at, actor, action, subject, detail)
SELECT timestamp '2026-12-01 12:00:00', 'member:' || (n % 5000), 'kudos.pass',
       'recognition:' || n, json_build_object('recipients', json_build_array(n % 4999),
       'values', json_build_array('#teamwork'), 'outcome', 'pass')
FROM generate_series(1, :n) AS n
"""
_READ = "SELECT id, at, actor, action, subject, detail, seq, mac FROM audit_entry ORDER BY id"


@contextmanager
def database(url: str | None) -> Iterator[Engine]:
    if url and url.startswith("postgres"):
        with private_schema(url) as (schema, where):
            engine = make_engine(where.render_as_string(hide_password=False))

            @event.listens_for(engine, "connect")
            def _path(dbapi_conn: object, _record: object) -> None:
                cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
                cursor.execute(f'SET search_path TO "{schema}"')
                cursor.close()

            try:
                yield engine
            finally:
                engine.dispose()
        return
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(url or f"sqlite:///{Path(tmp) / 'audit.db'}")
        try:
            yield engine
        finally:
            engine.dispose()


def fill(engine: Engine, n: int) -> float:
    started = time.perf_counter()
    fill_sql = _FILL_POSTGRES if engine.dialect.name == "postgresql" else _FILL_SQLITE
    with engine.begin() as conn:
        conn.execute(text(fill_sql), {"n": n})
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE audit_entry"))
    return time.perf_counter() - started


def bare_places(engine: Engine) -> float:
    """The peer of sealing: every row given a place in one statement, then taken back."""
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(text("UPDATE audit_entry SET seq = id, mac = 'x' WHERE seq IS NULL"))
        elapsed = time.perf_counter() - started
        conn.rollback()
    return elapsed


def bare_read(engine: Engine) -> float:
    """The peer of verifying: every row read, streamed as verify streams them."""
    started = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(text(_READ).execution_options(yield_per=5000))
        for _ in rows:
            pass
    return time.perf_counter() - started


def run(engine: Engine, entries: int) -> None:
    migrate.upgrade(engine)
    made = fill(engine, entries)
    print(f"{engine.dialect.name}: {entries:,} entries written in {made:.1f} s")
    key = AuditKey.parse(new_key())
    places = bare_places(engine)
    started = time.perf_counter()
    done = seal_all(engine, key, now=datetime.now(UTC))
    sealing = time.perf_counter() - started
    assert done.added == entries, done.added
    rate, peer_rate = entries / sealing, entries / places
    print(f"sealed in {sealing:.1f} s ({rate:,.0f}/s); one bare UPDATE: {places:.1f} s")
    emit(
        f"audit seal, entries/s ({engine.dialect.name}, {entries:,})",
        rate,
        peer_rate,
        f">= {SEAL_TARGET:,.0f}/s",
        rate >= SEAL_TARGET,
    )
    read = bare_read(engine)
    started = time.perf_counter()
    with Session(engine) as session:
        verdict = verify(session, key, now=datetime.now(UTC))
    proving = time.perf_counter() - started
    assert verdict.intact and verdict.sealed == entries, verdict.problems
    print(f"verified in {proving:.1f} s; a bare read of every row: {read:.1f} s")
    limit = VERIFY_TARGET * entries / 1_000_000
    emit(
        f"audit verify, s ({engine.dialect.name}, {entries:,})",
        proving,
        read,
        f"<= {limit:.0f} s",
        proving <= limit,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("PLAUDIT_BENCH_DATABASE_URL") or None
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    exit_on_sigterm()
    with database(args.database_url) as engine:
        run(engine, args.entries)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

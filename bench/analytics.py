"""Benchmark: the rollout and analytics pages and `plaudit report` at scale.

The leaderboard benchmark's synthetic organisation (10,000 members, a year of 1,000,000
recognitions and their recipients, milestone awards) is loaded into a fresh SQLite file
(and PostgreSQL in a private schema when a URL is given), with a function for every member,
a pilot and a control cohort, and a year of KPI events; the analytics rollups are computed
as the scheduler's first run would (timed too). Each dashboard page, and the
collaboration page drilled down to a team, a region and an area, is then fetched
through the real app (sign-in by a trusted proxy header, templates and all), timed next to
the leaderboard page fetched in the same run, its peer; the quarterly report is timed whole.
Targets: p95 under 200 ms per page, the report under 5 s.

    python bench/analytics.py [--members 10000] [--recognitions 1000000] [--runs 20]
                              [--postgres URL] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text  # noqa: E402
from sqlmodel import Session  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.routing import Mount  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from bench.common import emit, exit_on_sigterm  # noqa: E402
from bench.leaderboard import (  # noqa: E402
    NOW,
    TEAMS,
    load,
    loader,
    pct,
    postgres_database,
    sqlite_database,
    synthesize,
)
from bot.dashboard import DashboardConfig, dashboard_app  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from compliance_rules import default_rules  # noqa: E402
from handlers import pilots_kept, rollups  # noqa: E402
from handlers.clock import FixedClock  # noqa: E402
from handlers.collaboration import threshold  # noqa: E402
from handlers.policy import KudosPolicy  # noqa: E402
from handlers.report import quarter  # noqa: E402
from handlers.rollout import Cohort, Rollout  # noqa: E402

PAGE_TARGET_MS = 200.0
REPORT_TARGET_S = 5.0
FUNCTIONS = ("Marketing", "Medical", "Regulatory", "Clinical operations", "IT", "Sales")
KINDS = ("site_activated", "first_patient_in", "campaign_launched", "enrolment")
ROLLOUT = Rollout(
    (
        Cohort("pilot", "Pilot", "on", date(2026, 10, 1), teams=TEAMS[:5]),
        Cohort("control", "Control", "control", date(2026, 10, 1), teams=TEAMS[5:8]),
    ),
    outside="on",
)
ADMIN = "member00006@bench.example"  # the first member who is not a bot
PAGES = (
    ("leaderboard (peer)", "/dashboard/"),
    ("collaboration", "/dashboard/collaboration"),
    ("collaboration: a team", "/dashboard/collaboration?team=Team+07"),
    ("collaboration: a region", "/dashboard/collaboration?region=APAC"),
    ("collaboration: an area", "/dashboard/collaboration?every=week&therapeutic_area=Oncology"),
    ("kpis", "/dashboard/kpis"),
    ("pilots", "/dashboard/pilots"),
)


def enrich(engine: Engine, seed: int) -> None:
    """Functions for every member, the admin's role, and a year of KPI events by team."""
    rng = random.Random(seed)
    with engine.begin() as conn:
        for n, name in enumerate(FUNCTIONS):
            conn.execute(
                text("UPDATE member SET function = :f WHERE id % :k = :n"),
                {"f": name, "k": len(FUNCTIONS), "n": n},
            )
        conn.execute(text("UPDATE member SET roles = '[\"admin\"]' WHERE email = :e"), {"e": ADMIN})
        day, rows = date(2026, 1, 1), []
        while day < NOW.date():
            for _ in range(rng.randint(0, 12)):
                rows.append(
                    {
                        "event_id": f"ctms-{len(rows)}",
                        "kind": rng.choice(KINDS),
                        "occurred_on": day,
                        "team": rng.choice(TEAMS),
                        "value": rng.randint(1, 20),
                        "source": "csv",
                        "digest": "bench",
                        "received_at": NOW,
                    }
                )
            day += timedelta(days=1)
        conn.execute(
            text(
                "INSERT INTO kpi_event (event_id, kind, occurred_on, team, value, source, "
                "digest, received_at) VALUES (:event_id, :kind, :occurred_on, :team, :value, "
                ":source, :digest, :received_at)"
            ),
            rows,
        )
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))


def keep(engine: Engine) -> dict[str, float]:
    """The kept rollups and pilots' comparison, as the scheduler's first run after start
    computes them (every period), then one ordinary run of the rollups: what a deployment
    has before anyone opens a page."""
    with Session(engine) as session:
        began = time.perf_counter()
        periods = rollups.maintain(session, NOW)
        pilots_kept.keep(session, ROLLOUT, today=NOW.date(), least=threshold(()), now=NOW)
        session.commit()
        first = time.perf_counter() - began
        began = time.perf_counter()
        rollups.maintain(session, NOW + timedelta(minutes=5))
        session.commit()
        run = time.perf_counter() - began
    return {"periods": periods, "first": first, "run": run}


def bench(name: str, engine: Engine, runs: int) -> dict[str, float]:
    policy = replace(KudosPolicy(), rollout=ROLLOUT)
    runtime = Runtime(engine=engine, policy=policy, rules=default_rules(), clock=FixedClock(NOW))
    config = DashboardConfig(
        secret_key="bench-secret-0123456789abcdef-0123456789",
        proxy_header="X-Forwarded-Email",
        secure_cookies=False,
        admins=(ADMIN,),
    )
    app = Starlette(routes=[Mount("/dashboard", app=dashboard_app(runtime, config))])
    found: dict[str, float] = {}
    # In-process, from loopback (the proxy header is trusted only from there).
    with TestClient(
        app, headers={"X-Forwarded-Email": ADMIN}, client=("127.0.0.1", 50000)
    ) as client:
        samples: dict[str, list[float]] = {label: [] for label, _ in PAGES}
        for _label, path in PAGES:  # warm: templates compiled, caches filled
            assert client.get(path).status_code == 200, path
        for _ in range(runs):  # alternating, so a busy moment hits every page alike
            for label, path in PAGES:
                began = time.perf_counter()
                answer = client.get(path)
                samples[label].append(time.perf_counter() - began)
                assert answer.status_code == 200, (path, answer.status_code)
    for label, values in samples.items():
        found[label] = pct(values, 0.95)
        print(f"{name}: {label:<24} p50 {pct(values, 0.5):7.1f} ms  p95 {found[label]:7.1f} ms")
    period = policy.sprints.sprint_of(NOW - timedelta(days=3))
    assert period is not None
    began = time.perf_counter()
    runtime.run_sync(lambda s: quarter(s, period, now=NOW, least=5, rollout=ROLLOUT))
    found["report"] = time.perf_counter() - began
    print(f"{name}: report {period.id} in {found['report']:.2f} s")
    runtime.close()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--recognitions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--postgres", default=os.environ.get("PLAUDIT_BENCH_POSTGRES") or None)
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    exit_on_sigterm()
    data = synthesize(args.members, args.recognitions, 300, args.seed)
    databases = [] if args.no_sqlite else [("sqlite", lambda: sqlite_database(False))]
    if args.postgres:
        databases.append(("postgresql", lambda: postgres_database(args.postgres)))
    for name, opened in databases:
        with opened() as (engine, _where):
            began = time.perf_counter()
            load(engine, data, loader(engine, "fast")[0])
            enrich(engine, args.seed)
            print(f"{name}: loaded in {time.perf_counter() - began:.0f} s")
            refresh = keep(engine)
            print(
                f"{name}: rollups of {refresh['periods']:.0f} periods computed in "
                f"{refresh['first']:.1f} s; a scheduler run (2 current + 4 stalest) "
                f"{refresh['run']:.1f} s"
            )
            found = bench(name, engine, args.runs)
        peer = found["leaderboard (peer)"]
        for label in [label for label, _path in PAGES[1:]]:
            emit(
                f"{name} {label} page p95 ms",
                found[label],
                peer,
                f"< {PAGE_TARGET_MS:.0f} ms",
                found[label] < PAGE_TARGET_MS,
            )
        emit(
            f"{name} quarterly report s",
            found["report"],
            None,
            f"< {REPORT_TARGET_S:.0f} s",
            found["report"] < REPORT_TARGET_S,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

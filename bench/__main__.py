"""Run every benchmark, each in its own process with a time limit, and print one table.

    python -m bench [--quick] [--only NAME ...] [--json FILE]

Each script prints its own report as it runs, then `RESULT {json}` lines that end up as
rows of the table: metric | Plaudit | peer | ratio | target | pass/fail, where ratio is
Plaudit / peer. When PLAUDIT_BENCH_DATABASE_URL (or else PLAUDIT_TEST_DATABASE_URL) is a
PostgreSQL URL, /kudos is also measured there with one and with two `plaudit serve`
workers, the leaderboards are timed there too, and the outbox's claims among millions of
delivered rows (PostgreSQL only: skipped without one). Exits 0 when every benchmark ran and
met its target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import parse  # noqa: E402

NAMES = (
    "ack",
    "compliance",
    "fanout",
    "store_sync",
    "leaderboard",
    "outbox",
    "audit",
    "cold_start",
    "analytics",
)
GRACE = 20.0  # seconds between SIGTERM and SIGKILL for a benchmark over its time limit


@dataclass(frozen=True)
class Job:
    """One run of one script."""

    name: str
    title: str
    args: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()
    timeout: float = 300.0
    quick_timeout: float = 120.0
    env: dict[str, str | None] = field(default_factory=dict)
    skip: str | None = None

    @property
    def script(self) -> Path:
        return ROOT / "bench" / f"{self.name}.py"


@dataclass
class Outcome:
    """What one run produced: its rows, and why it failed or was skipped if it did."""

    job: Job
    rows: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None
    skipped: bool = False
    tail: list[str] = field(default_factory=list)
    seconds: float = 0.0


def postgres_url() -> str | None:
    """The PostgreSQL URL to measure on, if the environment names one."""
    for var in ("PLAUDIT_BENCH_DATABASE_URL", "PLAUDIT_TEST_DATABASE_URL"):
        url = os.environ.get(var, "").strip()
        if url.startswith("postgresql"):
            return url
    return None


def jobs(pg: str | None) -> list[Job]:
    """Every run, in order; PostgreSQL runs are skipped (with the reason) without a URL."""
    ack_args = ("--seconds", "10", "--rounds", "2", "--concurrency", "20")
    ack_quick = ("--seconds", "3", "--rounds", "1", "--warmup", "1")
    bench_url = os.environ.get("PLAUDIT_BENCH_DATABASE_URL", "").strip()
    # The first /kudos run is SQLite's, whatever PLAUDIT_BENCH_DATABASE_URL says, unless
    # that names a SQLite database itself.
    sqlite_env: dict[str, str | None] = (
        {} if bench_url.startswith("sqlite") else {"PLAUDIT_BENCH_DATABASE_URL": None}
    )
    no_pg = (
        None
        if pg
        else "no PostgreSQL URL (PLAUDIT_BENCH_DATABASE_URL or PLAUDIT_TEST_DATABASE_URL)"
    )
    runs = []
    for workers, title, env, skip in (
        (1, "SQLite", sqlite_env, None),
        (1, "PostgreSQL, 1 replica", {"PLAUDIT_BENCH_DATABASE_URL": pg}, no_pg),
        (2, "PostgreSQL, 2 replicas", {"PLAUDIT_BENCH_DATABASE_URL": pg}, no_pg),
    ):
        runs.append(
            Job(
                "ack",
                f"/kudos ack, {title}",
                args=(*ack_args, "--workers", str(workers)),
                quick=(*ack_quick, "--workers", str(workers)),
                timeout=240,
                quick_timeout=90,
                env=env,
                skip=skip,
            )
        )
    leaderboard_pg: tuple[str, ...] = ()
    if pg and not os.environ.get("PLAUDIT_BENCH_POSTGRES"):
        leaderboard_pg = ("--postgres", pg)
    runs += [
        Job("compliance", "compliance check()", ("--rounds", "3"), ("--rounds", "1"), 300, 120),
        Job("fanout", "survey fan-out", (), ("--members", "1000"), 900, 180),
        Job("store_sync", "BigCommerce sync", (), ("--orders", "10000"), 300, 120),
        Job(
            "leaderboard",
            "leaderboards",
            leaderboard_pg,
            ("--members", "2000", "--recognitions", "100000", "--runs", "20", *leaderboard_pg),
            1200,
            300,
        ),
        Job(
            "outbox",
            "outbox claims and purge",
            ("--database-url", pg) if pg else (),
            (
                *(("--database-url", pg) if pg else ()),
                *("--delivered", "200000", "--claims", "50", "--purge-batches", "10"),
            ),
            900,
            180,
            skip=no_pg,
        ),
        Job(
            "audit",
            "audit seal and verify, SQLite",
            (),
            ("--entries", "100000"),
            900,
            180,
            env=sqlite_env,
        ),
        Job(
            "cold_start",
            "cold start with 1,000,000 recognitions",
            leaderboard_pg,
            ("--recognitions", "100000", "--members", "2000", *leaderboard_pg),
            1500,
            300,
        ),
        Job(
            "audit",
            "audit seal and verify, PostgreSQL",
            ("--database-url", pg) if pg else (),
            (*(("--database-url", pg) if pg else ()), "--entries", "100000"),
            900,
            180,
            skip=no_pg,
        ),
        Job(
            "analytics",
            "analytics pages and quarterly report",
            ("--runs", "5", *leaderboard_pg),
            ("--members", "2000", "--recognitions", "100000", "--runs", "5", *leaderboard_pg),
            2400,
            300,
        ),
    ]
    return runs


def run(job: Job, quick: bool) -> Outcome:
    """Run one script in a session of its own, echo its report, collect its RESULT lines."""
    outcome = Outcome(job)
    if job.skip:
        outcome.problem, outcome.skipped = job.skip, True
        return outcome
    args = job.quick if quick else job.args
    timeout = job.quick_timeout if quick else job.timeout
    env = dict(os.environ)
    for key, value in job.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["PYTHONUNBUFFERED"] = "1"
    command = [sys.executable, str(job.script), *args]
    print(f"\n== {job.title}: {' '.join(['python', f'bench/{job.name}.py', *args])}", flush=True)
    began = time.monotonic()
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,  # its servers and workers share its process group
    )
    lines: list[str] = []
    reader = threading.Thread(target=_echo, args=(proc, lines, outcome.rows), daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        code = None
    except BaseException:
        _stop(proc)
        raise
    reader.join(timeout=10)
    outcome.seconds = time.monotonic() - began
    print(f"   ({outcome.seconds:.0f} s)", flush=True)
    outcome.tail = [line for line in lines if line.strip()][-5:]
    if code is None:
        outcome.problem = f"timed out after {timeout:.0f} s"
    elif code != 0:
        outcome.problem = f"exited with status {code}"
    elif not outcome.rows:
        outcome.problem = "printed no RESULT lines"
    return outcome


def _echo(proc: subprocess.Popen[str], lines: list[str], rows: list[dict[str, Any]]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        row = parse(line)
        if row is not None:
            rows.append(row)
            continue
        lines.append(line.rstrip("\n"))
        print("   " + line, end="", flush=True)


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM to the benchmark's process group, SIGKILL if it is still there after GRACE."""
    for sig, wait in ((signal.SIGTERM, GRACE), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def number(value: float | None) -> str:
    """A figure with about three significant digits."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.2g}" if size else "0"


def table(outcomes: Sequence[Outcome]) -> list[str]:
    """The results as a Markdown table, one row per metric and per benchmark that failed."""
    head = ("metric", "Plaudit", "peer", "ratio", "target", "pass/fail")
    body: list[tuple[str, ...]] = []
    for outcome in outcomes:
        for row in outcome.rows:
            ratio = row["ratio"]
            body.append(
                (
                    str(row["metric"]),
                    number(row["plaudit"]),
                    number(row["peer"]),
                    "-" if ratio is None else number(ratio) + "x",
                    str(row["target"]),
                    "pass" if row["pass"] else "FAIL",
                )
            )
        if outcome.problem:
            status = "skipped" if outcome.skipped else "FAIL"
            body.append((outcome.job.title, "-", "-", "-", outcome.problem, status))
    widths = [max(len(r[i]) for r in (head, *body)) for i in range(len(head))]
    right = {1, 2, 3}

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + ":" if i in right else "-" * (w + 2) for i, w in enumerate(widths)
    )
    return [line(head), rule + "|", *(line(r) for r in body)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        type=lambda s: s.replace("-", "_"),
        choices=NAMES,
        help=f"run only these: {', '.join(NAMES)}",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows here")
    args = parser.parse_args(argv)

    began = time.monotonic()
    pg = postgres_url()
    selected = [j for j in jobs(pg) if not args.only or j.name in args.only]
    outcomes = [run(job, args.quick) for job in selected]
    mode = "quick" if args.quick else "full"
    print(
        f"\n== Plaudit benchmarks ({mode} run, {os.cpu_count()} CPUs, "
        f"{time.monotonic() - began:.0f} s); ratio = Plaudit / peer"
    )
    print("\n".join(table(outcomes)))
    problems = [o for o in outcomes if o.problem]
    for o in problems:
        print(f"\n{o.job.title}: {'skipped, ' if o.skipped else ''}{o.problem}")
        for tail in o.tail:
            print(f"   {tail}")
    if args.json:
        collected = [{"benchmark": o.job.title, **row} for o in outcomes for row in o.rows]
        report = {
            "mode": mode,
            "cpus": os.cpu_count(),
            "seconds": {o.job.title: round(o.seconds, 1) for o in outcomes},
            "rows": collected,
            "problems": [
                {
                    "benchmark": o.job.title,
                    "skipped": o.skipped,
                    "problem": o.problem,
                    "output": o.tail,
                }
                for o in problems
            ],
        }
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.json}")
    failed = any(o.problem and not o.skipped for o in outcomes)
    missed = any(not row["pass"] for o in outcomes for row in o.rows)
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())

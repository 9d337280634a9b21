"""Benchmark: Plaudit's full /kudos path against two peers: a bare Bolt app that only acks,
and a durable one that writes each command into one table of the same database and
commits before it acks (`bench/durable_app.py`, the least a durable kudos can cost).

All three run as uvicorn processes on loopback (the peers with as many workers as Plaudit
has replicas), are driven by the same signed /kudos load at the same concurrency, in
alternating rounds, and both ratios are reported. An answer other
than 200, or Plaudit's "something went wrong" apology, counts as an error.

    python bench/ack.py [--seconds 10] [--rounds 2] [--concurrency 20] [--workers 1]

`--workers N` is passed to `plaudit serve`. The database is a new SQLite file, or the one
PLAUDIT_BENCH_DATABASE_URL names; on PostgreSQL a private schema `plaudit_bench_<random>`
is made there for the run (handed to the server through PGOPTIONS) and dropped at the end,
so every run starts from an empty database.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import emit, exit_on_sigterm, private_schema  # noqa: E402
from bot.slack.app import SORRY  # noqa: E402
from storage import audit  # noqa: E402
from storage.vault import new_key  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

SECRET = "bench-signing-secret-0123456789"
TOKEN = "xoxb-bench-token"
GIVERS = [f"U1{i:04}" for i in range(400)]
VALUES = ["#site-activation", "#collaboration", "#digital-content"]
TARGET_RATIO = {"SQLite": 0.5, "PostgreSQL": 0.15}  # of the bare app's rate
TARGET_DURABLE = 0.5
TARGET_P99_MS = 100.0


@dataclass
class Tally:
    """One app's requests over the measured rounds."""

    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
        "Content-Type": "application/x-www-form-urlencoded",
    }


@contextmanager
def database(workdir: Path) -> Iterator[tuple[str, dict[str, str], str]]:
    """The server's database URL, extra environment, and a label; empty on every run."""
    url = os.environ.get("PLAUDIT_BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'bench.db'}"
    if not url.startswith("postgresql"):
        yield url, {}, "SQLite" if url.startswith("sqlite") else url.split(":", 1)[0]
        return
    with private_schema(url) as (schema, _):
        options = f"{os.environ.get('PGOPTIONS', '')} -csearch_path={schema}".strip()
        yield url, {"PGOPTIONS": options}, "PostgreSQL"


def start(
    name: str, args: list[str], env: dict[str, str], port: int, workdir: Path
) -> subprocess.Popen[bytes]:
    """Start a server and wait until its port answers; its output goes to NAME.log."""
    path = workdir / f"{name}.log"
    with path.open("wb") as log:
        proc = subprocess.Popen(args, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                lines = path.read_text(errors="replace").strip().splitlines()
                last = lines[-1] if lines else "no output"
                raise SystemExit(
                    f"{name} exited with status {proc.returncode}: {last} (log: {path})"
                ) from None
            time.sleep(0.1)
    proc.terminate()
    proc.wait(timeout=30)
    raise SystemExit(f"{name} did not start within 60 s (log: {path})")


async def drive(
    url: str, seconds: float, concurrency: int, counter: itertools.count[int]
) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                n = next(counter)
                giver = GIVERS[n % len(GIVERS)]
                recipient = GIVERS[(n + 1) % len(GIVERS)]
                fields = {
                    "token": "unused",
                    "team_id": "T0001",
                    "team_domain": "bench",
                    "channel_id": "C0BENCH",
                    "channel_name": "bench",
                    "user_id": giver,
                    "user_name": giver.lower(),
                    "command": "/kudos",
                    "text": f"<@{recipient}|{recipient.lower()}> for the site activation email "
                    f"number {n} {VALUES[n % len(VALUES)]}",
                    "api_app_id": "A0001",
                    "response_url": f"https://hooks.slack.com/commands/T0001/{n}/x",
                    "trigger_id": f"{n}.bench.{time.time_ns()}",
                }
                body = urlencode(fields).encode()
                began = time.perf_counter()
                async with http.post(url, data=body, headers=sign(body)) as response:
                    answer = await response.read()
                    ok = response.status == 200 and not apology(answer)
                latencies.append(time.perf_counter() - began)
                errors += 0 if ok else 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies, errors


def apology(body: bytes) -> bool:
    """Plaudit answered 200 with its apology: the kudos failed and nothing was recorded."""
    try:
        return bool(json.loads(body).get("text") == SORRY)
    except (ValueError, AttributeError):
        return False


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument(
        "--workers", type=int, default=1, help="plaudit serve --workers (default 1)"
    )
    args = parser.parse_args()
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    exit_on_sigterm()

    workdir = Path(tempfile.mkdtemp(prefix="plaudit-bench-"))
    (workdir / "plaudit.yaml").write_text(
        "recognition:\n  daily_allowance: 1000\n  channel: C0KUDOS\n"
        "compliance:\n  safety_channel: C0SAFETY\n"
    )
    with database(workdir) as (url, db_env, db_label):
        results = run(args, workdir, url, db_env)

    summary = {}
    for name, r in results.items():
        summary[name] = {
            "requests": r.requests,
            "errors": r.errors,
            "rps": round(r.requests / r.seconds, 1),
            "p50_ms": round(pct(r.latencies, 0.50), 1),
            "p99_ms": round(pct(r.latencies, 0.99), 1),
            "mean_ms": round(statistics.mean(r.latencies) * 1000, 1),
        }
    plaudit, bare, durable = summary["plaudit"], summary["bare"], summary["durable"]
    ratio = plaudit["rps"] / bare["rps"]
    durable_ratio = plaudit["rps"] / durable["rps"]
    replicas = f"{args.workers} replica{'s' if args.workers > 1 else ''}"
    label = f"{db_label} {replicas}" if db_label != "SQLite" or args.workers > 1 else db_label
    print(
        f"{label}: concurrency {args.concurrency}, "
        f"{args.rounds} x {args.seconds:.0f}s rounds per app, alternating"
    )
    for name, s in summary.items():
        print(
            f"{name:8} {s['rps']:8.1f} req/s  p50 {s['p50_ms']:6.1f} ms  "
            f"p99 {s['p99_ms']:6.1f} ms  errors {s['errors']}"
        )
    print(
        f"throughput ratio plaudit/bare: {ratio:.3f}; plaudit/durable: {durable_ratio:.2f} "
        f"(target >= {TARGET_DURABLE}); plaudit p99 target < {TARGET_P99_MS:.0f} ms"
    )
    ratios = {"ratio": round(ratio, 3), "durable_ratio": round(durable_ratio, 3)}
    target = TARGET_RATIO.get(db_label, 0.5)
    print(json.dumps({**ratios, "database": label, **summary}))
    errors = plaudit["errors"] + bare["errors"] + durable["errors"]
    emit(
        f"ack req/s, {label}",
        plaudit["rps"],
        bare["rps"],
        f">= {target}x, 0 errors",
        ratio >= target and errors == 0,
        ratio=ratio,
    )
    emit(
        f"ack req/s vs the durable peer, {label}",
        plaudit["rps"],
        durable["rps"],
        f">= {TARGET_DURABLE}x, 0 errors",
        durable_ratio >= TARGET_DURABLE and errors == 0,
        ratio=durable_ratio,
    )
    emit(
        f"ack p99 ms, {label}",
        plaudit["p99_ms"],
        bare["p99_ms"],
        f"< {TARGET_P99_MS:.0f} ms",
        plaudit["p99_ms"] < TARGET_P99_MS,
    )
    return 0


def run(
    args: argparse.Namespace, workdir: Path, url: str, db_env: dict[str, str]
) -> dict[str, Tally]:
    """Start both apps, warm them up, drive them in alternating rounds, stop them."""
    fake = FakeSlack(token=TOKEN).start()
    for uid in GIVERS:
        fake.add_user(uid, uid.lower(), email=f"{uid.lower()}@bench.example", tz="Europe/London")
    env = os.environ | {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.base_url,
        "PLAUDIT_DATABASE_URL": url,
        "PLAUDIT_CONFIG": str(workdir / "plaudit.yaml"),
        "PLAUDIT_LOG_LEVEL": "warning",
        # Each giver sends many commands a second here; the per-person limit would refuse them.
        "PLAUDIT_COMMANDS_PER_MINUTE": "0",
        # Generated for the run: serving chat needs both keys; nothing outlives the run.
        "PLAUDIT_PV_KEY": new_key(),
        "PLAUDIT_AUDIT_KEY": audit.new_key(),
        "PYTHONPATH": str(ROOT),
    }
    ports = {"plaudit": free_port(), "bare": free_port(), "durable": free_port()}
    py = sys.executable
    serve = [py, "-m", "bot.cli.main", "serve", "--port", str(ports["plaudit"])]
    bare = [py, "-m", "uvicorn", "bench.bare_app:app", "--port", str(ports["bare"])]
    durable = [py, "-m", "uvicorn", "bench.durable_app:app", "--port", str(ports["durable"])]
    quiet = ["--log-level", "warning", "--no-access-log", "--workers", str(args.workers)]
    procs: dict[str, subprocess.Popen[bytes]] = {}
    results = {name: Tally() for name in ports}
    counter = itertools.count()
    try:
        procs["plaudit"] = start(
            "plaudit",
            [*serve, "--workers", str(args.workers)],
            env | db_env,
            ports["plaudit"],
            workdir,
        )
        procs["bare"] = start("bare", [*bare, *quiet], env, ports["bare"], workdir)
        procs["durable"] = start(
            "durable", [*durable, *quiet], env | db_env, ports["durable"], workdir
        )
        # Warm-up: connection pools, the users.info cache, SQLite's page cache.
        for port in ports.values():
            asyncio.run(
                drive(
                    f"http://127.0.0.1:{port}/slack/events", args.warmup, args.concurrency, counter
                )
            )
        for _ in range(args.rounds):
            for name, port in ports.items():
                n, lat, err = asyncio.run(
                    drive(
                        f"http://127.0.0.1:{port}/slack/events",
                        args.seconds,
                        args.concurrency,
                        counter,
                    )
                )
                r = results[name]
                r.latencies.extend(lat)
                r.requests += n
                r.errors += err
                r.seconds += args.seconds
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=30)
        fake.stop()
    return results


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: Plaudit's full /kudos path against a bare Bolt app that only acks.

Both run as uvicorn processes on loopback, are driven by the same signed /kudos load
at the same concurrency, in alternating rounds, and the ratio is reported.

    python bench/ack.py [--seconds 10] [--rounds 2] [--concurrency 20]
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
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.slack_api import FakeSlack  # noqa: E402

SECRET = "bench-signing-secret-0123456789"
TOKEN = "xoxb-bench-token"
GIVERS = [f"U1{i:04}" for i in range(400)]
VALUES = ["#site-activation", "#collaboration", "#digital-content"]


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


def start(
    name: str, args: list[str], env: dict[str, str], port: int, workdir: Path
) -> subprocess.Popen[bytes]:
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(args, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError as exc:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited; see {workdir / (name + '.log')}") from exc
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not start")


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
                    await response.read()
                    ok = response.status == 200
                latencies.append(time.perf_counter() - began)
                errors += 0 if ok else 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies, errors


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
    args = parser.parse_args()

    fake = FakeSlack(token=TOKEN).start()
    for uid in GIVERS:
        fake.add_user(uid, uid.lower(), email=f"{uid.lower()}@bench.example", tz="Europe/London")
    workdir = Path(tempfile.mkdtemp(prefix="plaudit-bench-"))
    (workdir / "plaudit.yaml").write_text(
        "recognition:\n  daily_allowance: 1000\n  channel: C0KUDOS\n"
    )
    env = os.environ | {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.base_url,
        "PLAUDIT_DATABASE_URL": os.environ.get(
            "PLAUDIT_BENCH_DATABASE_URL", f"sqlite:///{workdir / 'bench.db'}"
        ),
        "PLAUDIT_CONFIG": str(workdir / "plaudit.yaml"),
        "PLAUDIT_LOG_LEVEL": "warning",
        "PYTHONPATH": str(ROOT),
    }
    ports = {"plaudit": free_port(), "bare": free_port()}
    py = sys.executable
    procs = {
        "plaudit": start(
            "plaudit",
            [py, "-m", "bot.cli", "serve", "--port", str(ports["plaudit"])],
            env,
            ports["plaudit"],
            workdir,
        ),
        "bare": start(
            "bare",
            [
                py,
                "-m",
                "uvicorn",
                "bench.bare_app:app",
                "--port",
                str(ports["bare"]),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env | {"PYTHONPATH": str(ROOT)},
            ports["bare"],
            workdir,
        ),
    }
    results: dict[str, dict[str, list[float] | int]] = {
        n: {"lat": [], "n": 0, "err": 0, "secs": 0} for n in procs
    }
    counter = itertools.count()
    try:
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
                r["lat"].extend(lat)  # type: ignore[union-attr]
                r["n"] += n  # type: ignore[operator]
                r["err"] += err  # type: ignore[operator]
                r["secs"] += args.seconds  # type: ignore[operator]
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(timeout=30)
        fake.stop()

    summary = {}
    for name, r in results.items():
        lat = r["lat"]
        assert isinstance(lat, list)
        summary[name] = {
            "requests": r["n"],
            "errors": r["err"],
            "rps": round(float(r["n"]) / float(r["secs"]), 1),  # type: ignore[arg-type]
            "p50_ms": round(pct(lat, 0.50), 1),
            "p99_ms": round(pct(lat, 0.99), 1),
            "mean_ms": round(statistics.mean(lat) * 1000, 1),
        }
    ratio = summary["plaudit"]["rps"] / summary["bare"]["rps"]
    print(
        f"concurrency {args.concurrency}, "
        f"{args.rounds} x {args.seconds:.0f}s rounds per app, alternating"
    )
    for name, s in summary.items():
        print(
            f"{name:8} {s['rps']:8.1f} req/s  p50 {s['p50_ms']:6.1f} ms  "
            f"p99 {s['p99_ms']:6.1f} ms  errors {s['errors']}"
        )
    print(
        f"throughput ratio plaudit/bare: {ratio:.2f} (target >= 0.5); plaudit p99 target < 100 ms"
    )
    print(json.dumps({"ratio": round(ratio, 3), **summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

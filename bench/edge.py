"""The HTTP edge under abuse: the memory one unsigned 100 MB POST costs `plaudit serve`, and
the file descriptors 300 slow clients (request heads that never end) hold.

    python bench/edge.py [--tree PATH] [--megabytes 100] [--sockets 300]

`--tree` runs the server from another source tree (e.g. an export of an older commit:
`git archive <rev> | tar -x -C /tmp/old`), so figures before and after a change come from
the same script. Linux only (reads /proc)."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PV_KEY = "cGxhdWRpdC10ZXN0LXB2LWtleS0wMTIzNDU2Nzg5YWI="
AUDIT_KEY = "cGxhdWRpdC10ZXN0LWF1ZGl0LWtleS0wMTIzNDU2Nzg="


def _status(pid: int, field: str) -> int:
    """A /proc/<pid>/status field in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serve(tree: Path, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    (workdir / "plaudit.yaml").write_text("compliance:\n  safety_channel: C0SAFETY\n")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(tree),
        "PLAUDIT_DATABASE_URL": f"sqlite:///{workdir / 'edge.db'}",
        "PLAUDIT_CONFIG": str(workdir / "plaudit.yaml"),
        "PLAUDIT_PORT": str(port),
        "PLAUDIT_LOG_LEVEL": "warning",
        "PLAUDIT_PV_KEY": PV_KEY,
        "PLAUDIT_AUDIT_KEY": AUDIT_KEY,
        "SLACK_BOT_TOKEN": "xoxb-edge-bench",
        "SLACK_SIGNING_SECRET": "edge-bench-signing-secret-0123",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def _chunks(megabytes: int) -> Iterator[bytes]:
    block = b"x" * (1024 * 1024)
    for _ in range(megabytes):
        yield block


def big_post(pid: int, port: int, megabytes: int) -> dict[str, object]:
    # One small unsigned request first, so the figures are the big body's, not first-use costs.
    httpx.post(f"http://127.0.0.1:{port}/slack/events", content=b"{}" * 512, timeout=10)
    time.sleep(0.5)
    rss, peak = _status(pid, "VmRSS"), _status(pid, "VmHWM")
    started = time.monotonic()
    try:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/slack/events",
            content=_chunks(megabytes),
            headers={"Content-Type": "application/json"},
            timeout=120,
        )
        status: object = answer.status_code
    except httpx.HTTPError as exc:  # the server closed the connection mid-upload
        status = type(exc).__name__
    elapsed = time.monotonic() - started
    time.sleep(0.5)
    return {
        "status": status,
        "seconds": round(elapsed, 2),
        "rss_growth_mb": round((_status(pid, "VmRSS") - rss) / 1024, 1),
        "peak_growth_mb": round((_status(pid, "VmHWM") - peak) / 1024, 1),
    }


def slow_clients(pid: int, port: int, count: int) -> dict[str, object]:
    before = _descriptors(pid)
    clients = []
    refused = 0
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
            clients.append(sock)
        except OSError:
            refused += 1
    time.sleep(1)
    held = _descriptors(pid) - before
    time.sleep(11)  # past the default 10 s head deadline
    after = _descriptors(pid) - before
    try:
        alive = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code
    except httpx.HTTPError as exc:
        alive = type(exc).__name__  # type: ignore[assignment]
    for sock in clients:
        sock.close()
    return {
        "connect_failures": refused,
        "server_fds_held_after_1s": held,
        "server_fds_held_after_12s": after,
        "healthz_while_held": alive,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="source tree to serve from")
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--sockets", type=int, default=300)
    args = parser.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory() as workdir:
        process = _serve(args.tree.resolve(), Path(workdir), port)
        try:
            post = big_post(process.pid, port, args.megabytes)
            slow = slow_clients(process.pid, port, args.sockets)
        finally:
            process.terminate()
            process.wait(30)
    print(f"tree: {args.tree}")
    print(f"unsigned {args.megabytes} MB POST to /slack/events: {post}")
    print(f"{args.sockets} slow clients: {slow}")
    print("RESULT " + json.dumps({"metric": "edge", "post": post, "slow": slow}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Metrics of several worker processes: with PROMETHEUS_MULTIPROC_DIR every scrape adds up
all workers' counts, a worker that exits or is killed leaves its counts but no longer counts
as serving, the directory is emptied when serving starts, and `serve --workers 2` reports
both workers at every scrape."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.observability import metrics
from tests.harness import AUDIT_KEY, PV_KEY

ROOT = Path(__file__).resolve().parents[2]
WORKER = """
import sys
from bot.observability.metrics import Metrics
m = Metrics(None)
for line in sys.stdin:
    word, _, arg = line.strip().partition(" ")
    if word == "count":
        m.http_requests.labels("/healthz", "GET", "200").inc(int(arg))
    elif word == "scrape":
        sys.stdout.write(m.exposition().decode())
    elif word == "exit":
        break
    sys.stdout.write("\\n.\\n")
    sys.stdout.flush()
"""


class Worker:
    """A process counting into the shared directory, driven line by line."""

    def __init__(self, directory: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), metrics.MULTIPROC_ENV: str(directory)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, line: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = []
        for got in self.proc.stdout:
            if got == ".\n":
                return "".join(answer)
            answer.append(got)
        raise AssertionError(f"worker ended: {self.proc.wait()}")

    def exit(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.write("exit\n")
        self.proc.stdin.flush()
        assert self.proc.wait(timeout=30) == 0
        self._close()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._close()

    def _close(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


def sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = tmp_path / "metrics"
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(directory))
    yield directory


def test_a_scrape_adds_up_every_worker_and_dead_ones_stop_counting_as_serving(
    shared: Path,
) -> None:
    shared.mkdir()
    (shared / "counter_4242.db").write_bytes(b"left over from the last run")
    assert metrics.prepare_multiprocess(2) == shared
    assert list(shared.iterdir()) == []  # emptied at start

    first, second, third = Worker(shared), Worker(shared), None
    try:
        first.ask("count 3")
        second.ask("count 4")
        both = second.ask("scrape")
        assert sample(both, "plaudit_http_requests_total", route="/healthz") == 7
        assert sample(both, "plaudit_worker_processes") == 2
        assert sample(both, "process_cpu_seconds_total") is None  # one process's, not all

        first.exit()  # marks itself dead on the way out
        after_exit = second.ask("scrape")
        assert sample(after_exit, "plaudit_http_requests_total", route="/healthz") == 7
        assert sample(after_exit, "plaudit_worker_processes") == 1

        third = Worker(shared)
        third.ask("count 5")
        assert sample(second.ask("scrape"), "plaudit_worker_processes") == 2
        third.kill()  # no chance to say so: the next scrape finds it gone
        after_kill = second.ask("scrape")
        assert sample(after_kill, "plaudit_http_requests_total", route="/healthz") == 12
        assert sample(after_kill, "plaudit_worker_processes") == 1
    finally:
        for worker in (first, second, third):
            if worker is not None and worker.proc.poll() is None:
                worker.kill()


def test_several_workers_get_a_private_directory_and_one_process_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    assert metrics.prepare_multiprocess(1) is None
    assert metrics.MULTIPROC_ENV not in os.environ
    made = metrics.prepare_multiprocess(3)
    assert made is not None and made.is_dir() and os.environ[metrics.MULTIPROC_ENV] == str(made)
    made.rmdir()


def test_a_single_process_keeps_its_metrics_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    single = metrics.Metrics(None)  # type: ignore[arg-type]
    assert single.shared is None
    text = single.exposition().decode()
    assert sample(text, "plaudit_worker_processes") == 1
    assert sample(text, "process_cpu_seconds_total") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_with_two_workers_reports_both_at_every_scrape(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "PLAUDIT_PV_KEY": PV_KEY,
        "PLAUDIT_AUDIT_KEY": AUDIT_KEY,
        "PLAUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        metrics.MULTIPROC_ENV: str(tmp_path / "metrics"),
    }
    (tmp_path / "metrics").mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, text = time.monotonic() + 120, ""  # workers start slowly on a busy machine
        while time.monotonic() < deadline:
            try:
                text = httpx.get(f"{base}/metrics", timeout=2).text
                if sample(text, "plaudit_worker_processes") == 2:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert sample(text, "plaudit_worker_processes") == 2, text[-2000:]
        for _ in range(30):
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        for _ in range(6):  # whichever worker answers, it tells all of it
            text = httpx.get(f"{base}/metrics", timeout=5).text
            assert sample(text, "plaudit_http_requests_total", route="/healthz") == 30
    finally:
        proc.terminate()
        proc.communicate(timeout=30)

"""`plaudit serve` as operators run it: every line in one format, status lines written at
once, quiet probes and sweeps, a clean stop on SIGTERM; and database URLs read as providers
print them, or refused in one line."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.observability import logs
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import app as slack_app
from compliance_rules.engine import RuleSet
from handlers.policy import KudosPolicy
from storage.db import make_engine
from tests.harness import AUDIT_KEY, SECRET, TOKEN

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "hunter2-not-for-logs"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        PLAUDIT_DATABASE_URL=f"sqlite:///{tmp_path / 'plaudit.db'}",
        PLAUDIT_CONFIG=str(tmp_path / "none.yaml"),
        PYTHONPATH=str(ROOT),
        PLAUDIT_AUDIT_KEY=AUDIT_KEY,
    )
    return env | extra


def plaudit(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


class Lines:
    """A pipe read line by line in a thread, so what was written can be seen at once."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: io.TextIOBase) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Lines, Lines, str]]:
    port = _free_port()
    env = _environment(tmp_path, PLAUDIT_LOG_FORMAT="json", PLAUDIT_PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    out, err = Lines(process.stdout), Lines(process.stderr)  # type: ignore[arg-type]
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, "\n".join(err.lines)
        assert time.monotonic() < deadline, "not ready in time"
        time.sleep(0.2)
    yield process, out, err, base
    if process.poll() is None:
        process.kill()
        process.wait()
    process.stdout.close()
    process.stderr.close()


def test_serve_logs_only_json_writes_status_at_once_and_stops_cleanly_on_sigterm(
    served: tuple[subprocess.Popen[str], Lines, Lines, str],
) -> None:
    process, out, err, base = served
    # Written while running (stdout is a pipe here, as under systemd or docker).
    assert any(line.startswith("Plaudit listening on") for line in out.lines), out.lines
    started = len(err.lines)
    for _ in range(5):
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    time.sleep(0.3)
    probes = [json.loads(line) for line in err.lines[started:]]
    assert not [p for p in probes if p["logger"].startswith("alembic")], probes

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    out.thread.join(5)
    err.thread.join(5)
    entries = [json.loads(line) for line in err.lines]  # every line is one JSON object
    messages = {(e["logger"], e["message"]) for e in entries}
    assert ("uvicorn.error", "Application startup complete.") in messages
    assert ("uvicorn.error", "Application shutdown complete.") in messages
    assert any("stopped" in m for _, m in messages)
    assert not [e for e in entries if e["level"] == "warning" and "unused" in e["message"]]


def test_scheduled_runs_are_logged_at_debug_only() -> None:
    root = logging.getLogger()
    level = root.level
    executor = logging.getLogger("apscheduler.executors.default")
    try:
        for wanted, expect in (("info", False), ("debug", True)):
            buffer = io.StringIO()
            handler = logs.configure(wanted, json_format=True, stream=buffer)
            executor.info('Running job "Scheduler.sweep" (scheduled at now)')
            executor.warning("Run time of job was missed by 0:00:05")
            root.removeHandler(handler)
            lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
            assert [e["level"] for e in lines] == (["debug", "warning"] if expect else ["warning"])
    finally:
        root.setLevel(level)


@pytest.mark.parametrize("environment_token", [TOKEN, "xoxb-some-other-token"])
def test_bolt_warns_of_an_unused_token_only_when_it_differs(
    environment_token: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", environment_token)
    engine = make_engine("sqlite://")
    runtime = Runtime(engine=engine, policy=KudosPolicy(), rules=RuleSet([]))
    with caplog.at_level(logging.WARNING):
        slack_app.build(runtime, client=AsyncWebClient(token=TOKEN), signing_secret=SECRET)
    engine.dispose()
    warned = any("will be unused" in r.getMessage() for r in caplog.records)
    assert warned == (environment_token != TOKEN)


# -- database URLs ---------------------------------------------------------------------------


def test_postgres_urls_as_providers_print_them_use_psycopg_3() -> None:
    for url in ("postgres://u:p@db.example:5432/plaudit", "postgresql://u:p@db.example/plaudit"):
        settings = Settings.model_validate({"PLAUDIT_DATABASE_URL": url})
        assert settings.database_url.startswith("postgresql+psycopg://")
        engine = make_engine(url)
        assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        engine.dispose()


BAD = {
    "unparseable": "not a database url",
    "unknown database": f"oracle+nothing://u:{PASSWORD}@db.example/x",
    "missing driver": f"postgresql+psycopg2://u:{PASSWORD}@db.example/x",
    "unreachable host": f"postgres://u:{PASSWORD}@127.0.0.1:1/plaudit",
    "unopenable file": "sqlite:////nonexistent-dir/deeper/plaudit.db",
}


@pytest.mark.parametrize(
    "command", [["serve"], ["db", "current"], ["leaderboard"], ["audit", "verify"]]
)
@pytest.mark.parametrize("problem", sorted(BAD))
def test_a_bad_database_url_is_one_line_naming_the_setting_and_exit_2(
    problem: str, command: list[str], tmp_path: Path
) -> None:
    env = _environment(tmp_path, PLAUDIT_DATABASE_URL=BAD[problem])
    done = plaudit(*command, env=env, cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert "PLAUDIT_DATABASE_URL" in lines[0] and "Traceback" not in done.stderr
    assert PASSWORD not in done.stderr + done.stdout


@pytest.mark.parametrize("command", [["db", "upgrade"], ["audit", "verify"], ["leaderboard"]])
def test_a_command_leaves_no_database_connection_to_the_garbage_collector(
    command: list[str], tmp_path: Path
) -> None:
    """Python 3.13's sqlite3 warns of a connection nobody closed; a command closes its own."""
    env = _environment(tmp_path, PLAUDIT_DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}")
    subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], env=env, check=True)
    done = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-X", "dev", "-m", "bot.cli", *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "ResourceWarning" not in done.stderr and "unclosed" not in done.stderr, done.stderr

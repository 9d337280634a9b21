"""`plaudit demo`: the seeded organisation, the one-time sign-in link, and the sandbox."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot import demo
from bot.cli import main
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers.policy import KudosPolicy
from storage.models import Member, Recognition, Review
from tests.test_cli import free_port

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as s:
        return (
            s.exec(select(func.count()).select_from(Member)).one(),
            s.exec(select(func.count()).select_from(Recognition)).one(),
            s.exec(select(func.count()).select_from(Review)).one(),
        )


def test_seed_builds_larkspur_once(file_engine: Engine) -> None:
    runtime = Runtime(engine=file_engine, policy=demo.policy(KudosPolicy()), rules=default_rules())
    report = demo.seed(runtime, now=NOW)
    assert report["seeded"] is True
    members, recognitions, reviews = counts(file_engine)
    assert 55 <= members <= 65 and report["members"] == members
    assert recognitions >= 300 and reviews >= 1
    with Session(file_engine) as s:
        outcomes = {r.outcome for r in s.exec(select(Recognition))}
        managed = sum(1 for m in s.exec(select(Member)) if m.manager_id is not None)
        emails = {m.email for m in s.exec(select(Member))}
    assert {"pass", "hold", "block"} <= outcomes
    assert managed >= 50
    # A closed, anonymous pulse round whose results clear the threshold.
    with Session(file_engine) as s:
        from handlers import surveys

        round_ = surveys.latest_round(s, "pulse")
        assert round_ is not None and round_.status == "closed" and round_.id is not None
        results = surveys.results(s, round_.id)
    assert results.respondents >= 40 and not any(q.hidden for q in results.questions)
    assert all(e and e.endswith("@larkspur.example") for e in emails)
    again = demo.seed(runtime, now=NOW)
    assert again["seeded"] is False
    assert counts(file_engine) == (members, recognitions, reviews)
    runtime.close()


def test_demo_refuses_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", f"sqlite:///{tmp_path / 'plaudit-demo.db'}")
    assert main(["demo"]) == 2
    assert "a file of its own" in capsys.readouterr().err


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`plaudit demo` in a subprocess: (base URL, login link)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "PLAUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'real.db'}",
    }
    env.pop("PLAUDIT_DASHBOARD_SECRET", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    out = proc.stdout

    def read() -> None:
        for line in out:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        link = None
        seen = []
        deadline = time.monotonic() + 30
        while link is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(line)
            found = re.search(r"(http://127\.0\.0\.1:\d+/dashboard/demo-login\?token=\S+)", line)
            link = found.group(1) if found else None
        assert link is not None, "".join(seen)
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/dashboard/login", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert (tmp_path / "plaudit-demo.db").exists()
        assert not (tmp_path / "real.db").exists()
        yield base, link
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        reader.join(timeout=5)
        out.close()


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_demo_link_signs_in_once_and_the_sandbox_previews_posts(
    running: tuple[str, str],
) -> None:
    base, link = running
    with httpx.Client(base_url=base, timeout=10) as browser, httpx.Client(timeout=10) as other:
        signed = browser.get(link)
        assert signed.status_code == 303 and signed.headers["location"] == "/dashboard/"
        board = browser.get("/dashboard/")
        assert board.status_code == 200
        assert "Helen Marsh" in board.text  # the demo admin, signed in
        assert len(re.findall(r"[A-Z][a-z]+ [A-Z][a-z]+", board.text)) > 10
        # The link works once only.
        again = other.get(link, follow_redirects=False)
        assert again.status_code == 403
        assert other.get(f"{base}/dashboard/", follow_redirects=False).status_code == 303
        assert browser.get("/dashboard/reviews").text.count("Review #") >= 1

        page = browser.get("/dashboard/sandbox")
        assert page.status_code == 200 and "Sandbox" in page.text
        token = csrf_of(page)
        giver = "tom.becker@larkspur.example"
        text = "@Ana Lopez thanks for the <b>site activation</b> email #site-activation"
        done = browser.post(
            "/dashboard/sandbox", data={"csrf": token, "giver": giver, "text": text}
        )
        assert done.status_code == 200
        assert "Recorded kudos #" in done.text and "Ana Lopez" in done.text
        assert "Slack post (Block Kit)" in done.text and "Teams post (Adaptive Card)" in done.text
        assert "@Tom Becker gave kudos to @Ana Lopez" in done.text
        assert "&lt;b&gt;site activation&lt;/b&gt;" in done.text and "<b>" not in done.text
        assert "@Tom Becker recognised @Ana Lopez" in done.text

        stopped = browser.post(
            "/dashboard/sandbox",
            data={
                "csrf": token,
                "giver": giver,
                "text": "@Ana Lopez Oncozol is the best treatment",
            },
        )
        assert stopped.status_code == 200
        assert "Not published (block)" in stopped.text and "Findings" in stopped.text
        assert "Slack post" not in stopped.text
        assert re.search(r"<code>[\w.-]+</code>: ", stopped.text)

        refused = browser.post("/dashboard/sandbox", data={"giver": giver, "text": text})
        assert refused.status_code == 403
        anonymous = other.post(f"{base}/dashboard/sandbox", data={"csrf": token, "text": text})
        assert anonymous.status_code == 401

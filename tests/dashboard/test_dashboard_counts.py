"""Counts read as English everywhere: "1 entry", "2 entries", on the dashboard's pages, in
chat texts and on the command line (one helper, `count`, and its template twin)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.chat import texts
from bot.cli.main import main
from bot.dashboard import DashboardConfig, dashboard_app
from bot.dashboard.core import Dashboard
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers.counts import count
from handlers.policy import KudosPolicy
from storage import queries
from storage.audit import AuditKey, seal_all
from storage.db import make_engine
from storage.models import Member
from tests.harness import AUDIT_KEY, run_uvicorn

TEMPLATES = Path(__file__).resolve().parents[2] / "bot" / "dashboard" / "templates"
SECRET = "counts-test-secret-0123456789abcdef-01"
# A number printed by a template, then a plural noun: what `count` is for.
BARE_PLURAL = re.compile(
    r"\{\{[^}]*\}\}\s+(?:(?!by )[a-z]+ )?(?:entries|cases|surveys|answers|points|awards)\b"
)


def test_count_says_one_thing_or_many() -> None:
    assert count(1, "case") == "1 case"
    assert count(0, "case") == "0 cases"
    assert count(2, "entry", "entries") == "2 entries"
    assert count(1, "person", "people") == "1 person"
    assert count(-1, "point") == "-1 point"


def test_the_template_twin_says_the_same(engine: Engine) -> None:
    runtime = Runtime(engine=engine, policy=KudosPolicy(), rules=default_rules())
    d = Dashboard(runtime, DashboardConfig(secret_key=SECRET))
    shown = d.templates.from_string(
        '{% from "counts.html" import count %}'
        '{{ count(1, "case") }}|{{ count(3, "case") }}|{{ count(1, "entry", "entries") }}'
    ).render()
    assert shown == "1 case|3 cases|1 entry"


def test_no_template_prints_a_number_before_a_bare_plural() -> None:
    found = [
        f"{path.name}: {m.group(0)}"
        for path in sorted(TEMPLATES.glob("*.html"))
        for m in BARE_PLURAL.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.fixture
def admin_browser(file_engine: Engine) -> Iterator[tuple[httpx.Client, Engine]]:
    with Session(file_engine) as s:
        s.add(Member(display_name="Ada", email="ada@example.com", roles=["admin"]))
        s.commit()
        queries.append_audit(
            session=s,
            actor="roster",
            action="member.created",
            subject="member:1",
            detail={},
            at=datetime.now(UTC),
        )
        s.commit()
    runtime = Runtime(
        engine=file_engine,
        policy=replace(KudosPolicy(), daily_allowance=1),
        rules=default_rules(),
        audit_key=AuditKey.parse(AUDIT_KEY),
    )
    assert runtime.audit_key is not None
    seal_all(file_engine, runtime.audit_key, now=datetime.now(UTC))
    config = DashboardConfig(
        secret_key=SECRET, proxy_header="X-Forwarded-Email", secure_cookies=False
    )
    app = Starlette(routes=[Mount("/dashboard", app=dashboard_app(runtime, config))])
    server, thread, base = run_uvicorn(app, lifespan="off")
    headers = {"X-Forwarded-Email": "ada@example.com"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        yield client, file_engine
    server.should_exit = True
    thread.join(timeout=15)
    runtime.close()


def test_pages_say_one_entry_and_one_point(admin_browser: tuple[httpx.Client, Engine]) -> None:
    browser, _ = admin_browser
    audit = browser.get("/dashboard/audit").text
    assert "Sealed: 1 entry, ending where the checkpoint of" in audit
    assert "The latest 1 entry, newest first" in audit and "1 entries" not in audit
    configuration = browser.get("/dashboard/configuration").text
    assert "1 point a day" in configuration and "1 points" not in configuration


def test_chat_texts_say_one_sprint_point_and_one_person() -> None:
    data = {"title": "Store live", "points": 1, "team": "Brand", "sprint": "2026Q4"}
    assert "1 sprint point for team Brand." in texts.milestone(data).plain()
    commands = texts.Commands("/kudos", "/kudos me", "/kudos leaderboard", ())
    help_text = texts.help_text(commands, ["#collaboration"], 5, 1).plain()
    assert "to at most 1 person at once" in help_text


def test_the_command_line_says_one_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", f"sqlite:///{tmp_path / 'one.db'}")
    monkeypatch.delenv("PLAUDIT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    main(["db", "upgrade"])
    engine = make_engine(f"sqlite:///{tmp_path / 'one.db'}")
    with Session(engine) as s:
        queries.append_audit(
            session=s, actor="cli", action="x", subject="y", detail={}, at=datetime.now(UTC)
        )
        s.commit()
    engine.dispose()
    monkeypatch.setenv("PLAUDIT_AUDIT_KEY", AUDIT_KEY)
    assert main(["audit", "checkpoint"]) == 0
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    said = capsys.readouterr().out.strip()
    assert said.startswith("audit trail intact: 1 sealed entry proved against the key")
    assert "(1 entry)" in said and "1 entries" not in said

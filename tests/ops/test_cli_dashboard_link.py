"""`plaudit dashboard link --as EMAIL`: a one-time sign-in link for an installation without
single sign-on, good once and for minutes, for members whose role opens the dashboard, and
audited when issued and when used."""

from __future__ import annotations

import argparse
import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.cli import admin
from bot.cli.main import main
from bot.dashboard import DashboardConfig, dashboard_app, links
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers import signin_links
from handlers.clock import FixedClock
from handlers.policy import KudosPolicy
from storage.db import make_engine
from storage.models import AuditEntry, Member
from tests.harness import audit_proof, run_uvicorn
from tests.ops.test_cli import workdir

__all__ = ["workdir"]
SECRET = "link-test-secret-0123456789abcdef-0123"
LINK = re.compile(r"(https?://\S+/dashboard)/link\?token=(\S+)")


def run(*argv: str) -> int:
    """The admin commands as `plaudit` registers them."""
    parser = argparse.ArgumentParser(prog="plaudit")
    admin.add(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture
def people(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("PLAUDIT_DASHBOARD_SECRET", SECRET)
    monkeypatch.delenv("PLAUDIT_PUBLIC_URL", raising=False)
    main(["db", "upgrade"])
    engine = make_engine(f"sqlite:///{workdir / 'cli.db'}")
    with Session(engine) as s:
        s.add(Member(display_name="Ada Admin", email="ada@example.com", roles=["admin"]))
        s.add(Member(display_name="Rae Reviewer", email="rae@example.com", roles=["reviewer"]))
        s.add(Member(display_name="Mo Member", email="mo@example.com"))
        s.add(Member(display_name="Lee Leaver", email="lee@example.com", roles=["admin"]))
        s.commit()
        leaver = s.exec(select(Member).where(Member.email == "lee@example.com")).one()
        leaver.active = False
        s.add(leaver)
        s.commit()
    yield engine
    engine.dispose()


@contextlib.contextmanager
def site(engine: Engine, now: datetime | None = None) -> Iterator[httpx.Client]:
    """A browser on the dashboard as `plaudit serve` mounts it, with the link route added."""
    runtime = Runtime(engine=engine, policy=KudosPolicy(), rules=default_rules())
    if now is not None:
        runtime.clock = FixedClock(now)
    config = DashboardConfig(secret_key=SECRET, secure_cookies=False)
    dashboard = dashboard_app(runtime, config, extra=links.routes)
    server, thread, base = run_uvicorn(
        Starlette(routes=[Mount("/dashboard", app=dashboard)]), lifespan="off"
    )
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        runtime.close()


def issue(capsys: pytest.CaptureFixture[str], email: str, *extra: str) -> tuple[str, str]:
    assert run("dashboard", "link", "--as", email, *extra) == 0
    out = capsys.readouterr().out
    found = LINK.search(out)
    assert found, out
    return found.group(1), found.group(2)


def test_an_admin_gets_a_link_that_signs_in_once(
    people: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    base, token = issue(capsys, "ADA@example.com")
    assert base == "http://127.0.0.1:3000/dashboard"
    with site(people) as browser:
        first = browser.get(f"/dashboard/link?token={token}", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/dashboard/"
        assert "plaudit_dashboard" in first.headers["set-cookie"]
        home = browser.get("/dashboard/audit")
        assert home.status_code == 200 and "Ada Admin" in home.text
        browser.cookies.clear()
        again = browser.get(f"/dashboard/link?token={token}", follow_redirects=False)
        assert again.status_code == 403 and "used already" in again.text
        assert "plaudit dashboard link --as" in again.text
    with Session(people) as s:
        actions = [e.action for e in s.exec(select(AuditEntry).order_by(col(AuditEntry.id)))]
        assert actions == ["dashboard.link_issued", "dashboard.link_used"]
        assert audit_proof(s).intact


def test_a_reviewer_too_but_not_a_plain_member_a_leaver_or_a_stranger(
    people: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    issue(capsys, "rae@example.com")
    for who, why in (
        ("mo@example.com", "has no dashboard role"),
        ("lee@example.com", "no active member"),
        ("ghost@example.com", "no active member"),
    ):
        assert run("dashboard", "link", "--as", who) == 1
        out = capsys.readouterr().out
        assert why in out and "token=" not in out
    assert run("dashboard", "link", "--as", "rae@example.com", "--minutes", "600") == 1
    assert "1 to 60 minutes" in capsys.readouterr().out


def test_a_configured_admin_gets_one_and_the_public_address_is_used(
    people: Engine,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (workdir / "plaudit.yaml").write_text("dashboard:\n  admins: [mo@example.com]\n")
    monkeypatch.setenv("PLAUDIT_CONFIG", str(workdir / "plaudit.yaml"))
    monkeypatch.setenv("PLAUDIT_PUBLIC_URL", "https://plaudit.example.com")
    base, _ = issue(capsys, "mo@example.com")
    assert base == "https://plaudit.example.com/dashboard"


def test_an_expired_or_altered_link_signs_no_one_in(
    people: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    _, token = issue(capsys, "ada@example.com", "--minutes", "5")
    later = datetime.now(UTC) + timedelta(minutes=6)
    with site(people, now=later) as browser:
        expired = browser.get(f"/dashboard/link?token={token}", follow_redirects=False)
        assert expired.status_code == 403 and "expired" in expired.text
    member, expires, nonce, _ = token.split(".")
    forged = f"{int(member) + 1}.{expires}.{nonce}.{token.split('.')[3]}"
    with site(people) as browser:
        for bad in (forged, token[:-3], "", "x" * 5000):
            refused = browser.get("/dashboard/link", params={"token": bad})
            assert refused.status_code == 403 and "not valid" in refused.text
        # Still good: the refusals above did not use it up.
        good = browser.get(f"/dashboard/link?token={token}", follow_redirects=False)
        assert good.status_code == 303


def test_a_member_who_lost_the_role_cannot_use_a_link_issued_before(
    people: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    _, token = issue(capsys, "rae@example.com")
    with Session(people) as s:
        rae = s.exec(select(Member).where(Member.email == "rae@example.com")).one()
        rae.roles = []
        s.add(rae)
        s.commit()
    with site(people) as browser:
        refused = browser.get(f"/dashboard/link?token={token}", follow_redirects=False)
        assert refused.status_code == 403 and "no longer allowed" in refused.text


def test_without_the_dashboard_secret_it_says_what_to_set(
    people: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLAUDIT_DASHBOARD_SECRET")
    with pytest.raises(Exception, match="PLAUDIT_DASHBOARD_SECRET"):
        run("dashboard", "link", "--as", "ada@example.com")


def test_a_token_is_signed_with_a_key_of_its_own() -> None:
    assert signin_links.link_key(SECRET) != SECRET.encode()
    assert signin_links.link_key(SECRET) != signin_links.link_key(SECRET + "x")

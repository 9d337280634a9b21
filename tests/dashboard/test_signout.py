"""Signing out ends the session on the server: a copy of the cookie replayed afterwards opens
nothing, on this process or another sharing the database; and CSV cells cannot run formulas."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.applications import Starlette

from bot.dashboard.auth import SESSION_COOKIE, Sessions
from bot.dashboard.config import DashboardConfig
from bot.http.app import create_app
from bot.runtime import Runtime
from bot.settings import Settings
from compliance_rules.engine import RuleSet
from handlers.exports import cell, to_csv
from handlers.policy import KudosPolicy
from storage.models import Member

SECRET = "dashboard-secret-0123456789abcdef0123"
SALT = "plaudit.dashboard.session"


@pytest.fixture
def runtime(file_engine: Engine) -> Iterator[Runtime]:
    with Session(file_engine) as s:
        s.add(Member(email="bob@example.com", display_name="Bob"))
        s.commit()
    running = Runtime(
        engine=file_engine, policy=KudosPolicy(recognition_channel="C0KUDOS"), rules=RuleSet([])
    )
    yield running
    if running._commits is not None:
        running._commits.stop()
        running._commits = None


def app(runtime: Runtime) -> Starlette:
    settings = Settings.model_validate(
        {
            "PLAUDIT_DATABASE_URL": str(runtime.engine.url),
            "PLAUDIT_CONFIG": "/nonexistent.yaml",
            "PLAUDIT_DASHBOARD_SECRET": SECRET,
            "PLAUDIT_PUBLIC_URL": "http://plaudit",
        }
    )
    return create_app(settings, runtime, dispatch=False)


def visit(target: Starlette, cookie: str, *, logout: str | None = None) -> int:
    """The status of the feed page (or of signing out, with a CSRF token) with `cookie`."""

    async def go() -> int:
        transport = httpx.ASGITransport(app=target)
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://plaudit") as client:
            if logout is not None:
                answer = await client.post(
                    "/dashboard/logout", data={"csrf": logout}, headers=headers
                )
            else:
                answer = await client.get("/dashboard/feed", headers=headers)
            return answer.status_code

    return asyncio.run(go())


def test_a_cookie_replayed_after_sign_out_is_refused_here_and_on_another_replica(
    runtime: Runtime,
) -> None:
    here, there = app(runtime), app(runtime)
    sid = "session-0123456789"
    cookie = URLSafeTimedSerializer(SECRET, salt=SALT).dumps(
        {"sid": sid, "email": "bob@example.com"}
    )
    other = URLSafeTimedSerializer(SECRET, salt=SALT).dumps(
        {"sid": "another-session-987", "email": "bob@example.com"}
    )
    assert visit(here, cookie) == 200 and visit(there, cookie) == 200
    csrf = Sessions(DashboardConfig(secret_key=SECRET)).csrf_token(sid)
    assert visit(here, cookie, logout=csrf) == 200

    assert visit(here, cookie) == 303  # sent to sign in again
    assert visit(there, cookie) == 303
    assert visit(there, other) == 200  # only that session ended


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        ' =HYPERLINK("http://evil.example")',
        "\t=1+1",
        "\r\n+SUM(A1)",
        "  @cmd",
        "\u00a0-2+3",
        "\u3000=1",
        "\uff1d1+1",
    ],
)
def test_a_cell_that_starts_like_a_formula_even_after_blanks_is_guarded(text: str) -> None:
    assert cell(text) == "'" + text


def test_every_csv_cell_is_quoted_so_a_semicolon_locale_cannot_split_one() -> None:
    out = to_csv(["who", "message"], [["Bob", 'thanks;=HYPERLINK("http://evil.example")']])
    assert out.splitlines()[1] == '"Bob","thanks;=HYPERLINK(""http://evil.example"")"'
    assert list(csv.reader(io.StringIO(out)))[1] == [
        "Bob",
        'thanks;=HYPERLINK("http://evil.example")',
    ]
    assert cell("thanks for the launch") == "thanks for the launch" and cell(-5) == "-5"

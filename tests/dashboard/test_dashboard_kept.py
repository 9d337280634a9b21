"""The analytics pages read what the scheduler kept, and say as of when; before its first
run they count from the kudos and say nothing of the kind."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.dashboard import DashboardConfig, dashboard_app
from bot.jobs.scheduler import Scheduler
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers.clock import FixedClock
from handlers.policy import KudosPolicy
from handlers.rollout import Cohort, Rollout
from storage.models import Member
from tests.handlers.test_collaboration import DAY, NOW, kudos, people
from tests.harness import run_uvicorn

ADMIN = "admin@example.com"
ROLLOUT = Rollout(
    (
        Cohort("pilot", "Pilot", "on", (NOW - 10 * DAY).date(), teams=("Brand",)),
        Cohort("control", "Control", "control", (NOW - 10 * DAY).date(), teams=("Medical",)),
    ),
    outside="on",
)


@pytest.fixture
def site(file_engine: Engine) -> Iterator[tuple[httpx.Client, Runtime]]:
    with Session(file_engine) as session:
        session.add(Member(display_name="Admin", email=ADMIN, roles=["admin"]))
        ids = people(session, *[(f"b{n}", "Brand", "IT") for n in range(3)],
                     *[(f"m{n}", "Medical", "IT") for n in range(3)])  # fmt: skip
        for n in range(3):
            kudos(session, ids[f"b{n}"], ids[f"m{n}"], at=NOW - DAY - n * timedelta(hours=1))
        session.commit()
    policy = replace(KudosPolicy(), rollout=ROLLOUT)
    runtime = Runtime(engine=file_engine, policy=policy, rules=default_rules(),
                      clock=FixedClock(NOW))  # fmt: skip
    config = DashboardConfig(secret_key="kept-page-test-secret-0123456789abcdef",
                             proxy_header="X-Forwarded-Email", secure_cookies=False,
                             admins=(ADMIN,))  # fmt: skip
    app = Starlette(routes=[Mount("/dashboard", app=dashboard_app(runtime, config))])
    server, thread, base = run_uvicorn(app, lifespan="off")
    with httpx.Client(base_url=base, timeout=10, headers={"X-Forwarded-Email": ADMIN}) as client:
        yield client, runtime
    server.should_exit = True
    thread.join(timeout=15)
    runtime.close()


PAGES = {
    "/dashboard/collaboration": "Figures as of 2026-11-24 10:00 UTC",
    "/dashboard/kpis": "Kudos as of 2026-11-24 10:00 UTC",
    "/dashboard/pilots": "Figures as of 2026-11-24 10:00 UTC",
}


def test_the_pages_say_as_of_when_once_the_scheduler_has_kept_their_figures(
    site: tuple[httpx.Client, Runtime],
) -> None:
    client, runtime = site
    before = {path: client.get(path) for path in PAGES}
    assert all(r.status_code == 200 for r in before.values())
    assert not any(" as of " in r.text for r in before.values())
    assert asyncio.run(Scheduler(runtime).refresh_analytics()) > 0
    for path, said in PAGES.items():
        after = client.get(path)
        assert after.status_code == 200 and said in after.text, path

    # The same page either way, but for the sentence saying as of when.
    def lines(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.strip() and " as of " not in line]

    for path in PAGES:
        assert lines(client.get(path).text) == lines(before[path].text), path

"""Recognition next to business KPIs: the weekly figures, the correlation, the page."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.dashboard import DashboardConfig, dashboard_app
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers.clock import FixedClock
from handlers.kpi_trends import Week, correlation, pearson, trend
from handlers.policy import KudosPolicy
from storage.models import KpiEvent, Member, Recognition, RecognitionRecipient
from tests.harness import run_uvicorn

TODAY = date(2026, 11, 25)  # a Wednesday
MONDAY = date(2026, 11, 23)
SECRET = "kpi-page-test-secret-0123456789abcdef"


def test_pearson_and_the_chance_line_match_figures_worked_by_hand() -> None:
    assert pearson([1, 2, 3, 4], [2, 4, 5, 4]) == pytest.approx(3.5 / math.sqrt(23.75))
    assert pearson([1, 2, 3], [5, 5, 5]) is None
    weeks = [Week(MONDAY, k, e, Decimal(0)) for k, e in zip(range(26), range(26), strict=True)]
    found = correlation(weeks)
    assert (found.r, found.weeks, found.chance) == (1.0, 26, 0.39)  # tanh(1.96 / sqrt(23))
    assert correlation(weeks[:7]).r is None and "fewer than 8" in str(correlation(weeks[:7]))
    flat = correlation([Week(MONDAY, 3, e, Decimal(0)) for e in range(10)])
    assert flat.r is None and flat.why_not == "one of the two series never changes"


def kudos(session: Session, giver: Member, to: Member, day: date, outcome: str = "pass") -> None:
    n = len(session.exec(select(Recognition)).all())
    row = Recognition(
        dedupe_key=f"k{n}",
        giver_id=giver.id or 0,
        text="thanks",
        text_sha256=hashlib.sha256(b"thanks").hexdigest(),
        source="command",
        platform="slack",
        outcome=outcome,
        giver_local_date=day,
        created_at=datetime.combine(day, time(12), UTC),
    )
    session.add(row)
    session.flush()
    session.add(RecognitionRecipient(recognition_id=row.id or 0, member_id=to.id or 0))


def event(session: Session, n: int, day: date, team: str, value: int | None = None) -> None:
    session.add(
        KpiEvent(
            event_id=f"e{n}", kind="site_activated", occurred_on=day, team=team,
            value=None if value is None else Decimal(value), source="csv", digest="x",
            received_at=datetime.now(UTC),
        )
    )  # fmt: skip


@pytest.fixture
def world(session: Session) -> Session:
    ana = Member(display_name="Ana", email="ana@example.com", team="Oncology")
    ben = Member(display_name="Ben", email="ben@example.com", team="Cardio")
    session.add_all([ana, ben])
    session.flush()
    kudos(session, ana, ben, MONDAY)  # this week, to Cardio
    kudos(session, ben, ana, MONDAY + timedelta(days=1))  # this week, to Oncology
    kudos(session, ben, ana, MONDAY - timedelta(days=3))  # last week, to Oncology
    kudos(session, ben, ana, MONDAY, outcome="hold")  # not published: not counted
    event(session, 1, MONDAY, "Oncology")
    event(session, 2, MONDAY + timedelta(days=2), "Cardio")
    event(session, 3, MONDAY - timedelta(days=7), "Oncology")
    event(session, 4, MONDAY - timedelta(weeks=30), "Oncology")  # before the span
    session.add(KpiEvent(event_id="o", kind="fpi", occurred_on=MONDAY, source="csv", digest="x",
                         received_at=datetime.now(UTC)))  # fmt: skip
    session.commit()
    return session


def test_weeks_count_published_kudos_and_events_for_everyone_or_one_team(world: Session) -> None:
    everyone = trend(world, today=TODAY, weeks=13, kind=None, team=None)
    assert everyone.kind == "site_activated" and everyone.kinds == ["site_activated", "fpi"]
    assert len(everyone.weeks) == 13 and everyone.weeks[-1].start == MONDAY
    assert [(w.kudos, w.events) for w in everyone.weeks[-2:]] == [(1, 1), (2, 2)]
    assert sum(w.events for w in everyone.weeks) == 3  # the one 30 weeks ago is outside
    oncology = trend(world, today=TODAY, weeks=13, kind="site_activated", team="Oncology")
    assert [(w.kudos, w.events) for w in oncology.weeks[-2:]] == [(1, 1), (1, 1)]
    assert oncology.teams == ["Cardio", "Oncology"]
    assert [e.event_id for e in oncology.latest][:2] == ["e2", "e1"]
    small = trend(world, today=TODAY, weeks=13, kind=None, team="Oncology", least=3)
    assert small.held and all(w.kudos == 0 for w in small.weeks)  # one person: their own
    assert small.correlation.r is None and "fewer than 3 people" in str(small.correlation)
    assert [w.events for w in small.weeks] == [w.events for w in oncology.weeks]


@pytest.fixture
def manager_browser(file_engine: Engine) -> Iterator[httpx.Client]:
    with Session(file_engine) as session:
        ana = Member(display_name="Ana", email="ana@example.com", team="Onc")
        session.add(ana)
        session.flush()  # Ana manages Ben: the dashboard's manager role
        session.add(Member(display_name="Ben", email="ben@example.com", manager_id=ana.id))
        for week in range(10):
            day = MONDAY - timedelta(weeks=week)
            for n in range(week % 3 + 1):
                event(session, week * 10 + n, day, "Onc", value=5)
                kudos(session, ana, ana, day)
        session.commit()
    runtime = Runtime(
        engine=file_engine,
        policy=KudosPolicy(),
        rules=default_rules(),
        clock=FixedClock(datetime.combine(TODAY, time(9), UTC)),
    )
    config = DashboardConfig(secret_key=SECRET, proxy_header="X-Forwarded-Email",
                             secure_cookies=False)  # fmt: skip
    app = Starlette(routes=[Mount("/dashboard", app=dashboard_app(runtime, config))])
    server, thread, base = run_uvicorn(app, lifespan="off")
    with httpx.Client(base_url=base, timeout=10) as client:
        yield client
    server.should_exit = True
    thread.join(timeout=15)
    runtime.close()


def test_a_manager_sees_the_weeks_the_coefficient_and_its_caveats(
    manager_browser: httpx.Client,
) -> None:
    ana = {"X-Forwarded-Email": "ana@example.com"}
    page = manager_browser.get("/dashboard/kpis?weeks=13", headers=ana)
    assert page.status_code == 200
    assert "<strong>+1.00</strong> over 13 weeks" in page.text  # kudos and value in step
    assert "A correlation is not a cause" in page.text
    assert "Total value of “site_activated” events for everyone" in page.text
    assert "Campaign time to market" in page.text
    assert "No promotion has gone live since Plaudit first synced the store" in page.text
    assert '<th scope="row">2026-11-23</th><td>1</td><td>1</td><td>5</td>' in page.text
    team = manager_browser.get("/dashboard/kpis?weeks=13&team=Onc", headers=ana).text
    assert "Kudos for team Onc are not shown: it has fewer than 5 people" in team
    assert "+1.00" not in team and "<td>not shown</td>" in team
    member = manager_browser.get(
        "/dashboard/kpis", headers={"X-Forwarded-Email": "ben@example.com"}, follow_redirects=False
    )
    assert member.status_code == 403 and "+1.00" not in member.text

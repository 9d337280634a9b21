"""The collaboration page: shown to managers and admins, refused to members; its CSV columns;
and a figure held back never shows its number, on the page or in a CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.dashboard import DashboardConfig, dashboard_app
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers import roster
from handlers.clock import FixedClock
from handlers.policy import KudosPolicy
from handlers.surveys import Survey
from storage.models import AuditEntry, Member, Recognition, RecognitionRecipient
from tests.harness import run_uvicorn

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
HEADER = "X-Forwarded-Email"
# Brand: the manager and four marketers; Digital: three in IT. Threshold 3 (the survey's).
PEOPLE = [
    ("mia", "Brand", "marketing", ""),
    *((n, "Brand", "marketing", "mia") for n in ("ann", "bea", "cy", "dee")),
    *((n, "Digital", "IT", "") for n in ("eli", "fay", "gus")),
    ("ada", "", "", ""),
]


def _kudos(s: Session, ids: dict[str, int], giver: str, *to: str, days: int = 1) -> None:
    at = NOW - timedelta(days=days)
    r = Recognition(
        dedupe_key=f"{giver}{to}{days}",
        giver_id=ids[giver],
        text="thanks",
        text_sha256="0" * 64,
        source="cli",
        platform="cli",
        outcome="pass",
        giver_local_date=at.date(),
        created_at=at,
    )
    s.add(r)
    s.flush()
    s.add_all(RecognitionRecipient(recognition_id=r.id or 0, member_id=ids[t]) for t in to)


@pytest.fixture
def client(file_engine: Engine) -> Iterator[httpx.Client]:
    engine = file_engine
    rows = [
        roster.Row(
            i + 2,
            {
                "email": f"{n}@example.com",
                "display_name": n.title(),
                "team": team,
                "function": function,
                "region": "EU",
                "manager_email": f"{boss}@example.com" if boss else "",
            },
        )
        for i, (n, team, function, boss) in enumerate(PEOPLE)
    ]
    with Session(engine) as s:
        assert not roster.import_rows(rows, session=s, now=NOW).rejected
        ids = {m.email.split("@")[0]: m.id or 0 for m in s.exec(select(Member)) if m.email}
        _kudos(s, ids, "ann", "bea", "cy")  # Brand inside: 3 people
        _kudos(s, ids, "eli", "ann")  # Digital -> Brand: 2 people, held back
        _kudos(s, ids, "eli", "fay", "gus")  # Digital inside: 3 people
        _kudos(s, ids, "bea", "gus")  # Brand -> Digital: with the next, 4 people, held too,
        _kudos(s, ids, "cy", "fay")  # so the Digital -> Brand cell is not the rest of them
        s.commit()
    runtime = Runtime(
        engine=engine,
        policy=KudosPolicy(),
        rules=default_rules(),
        clock=FixedClock(NOW),
        surveys=(Survey(id="p", title="P", questions=(), min_responses=3),),
    )
    config = DashboardConfig(
        secret_key="collaboration-test-secret-0123456789",
        proxy_header=HEADER,
        secure_cookies=False,
        admins=("ada@example.com",),
    )
    app = Starlette(routes=[Mount("/dashboard", app=dashboard_app(runtime, config))])
    server, thread, url = run_uvicorn(app, lifespan="off")
    try:
        with httpx.Client(base_url=url + "/dashboard", timeout=10) as c:
            yield c
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _as(client: httpx.Client, who: str, path: str) -> str:
    response = client.get(path, headers={HEADER: f"{who}@example.com"})
    assert response.status_code == 200, (who, path, response.status_code)
    return response.text


def test_a_manager_sees_the_page_and_a_member_is_refused(client: httpx.Client) -> None:
    page = _as(client, "mia", "/collaboration?every=week")
    assert "<h1>Collaboration</h1>" in page
    assert '/dashboard/collaboration" aria-current="page">Collaboration</a>' in page
    assert "<svg" in page and "Who recognises whom, by team" in page
    assert "fewer than 3 people" in page
    assert _as(client, "ada", "/collaboration").count("<table") >= 4
    refused = client.get("/collaboration", headers={HEADER: "ann@example.com"})
    assert refused.status_code == 403 and "Not allowed" in refused.text
    csv_refused = client.get("/export/collaboration.csv", headers={HEADER: "ann@example.com"})
    assert csv_refused.status_code == 403
    assert "Collaboration" not in _as(client, "ann", "/")  # not in a member's nav


def test_held_back_cells_never_show_their_numbers(client: httpx.Client) -> None:
    page = _as(client, "mia", "/collaboration?every=week")
    matrix = page.split("Kudos from team (rows) to team (columns)")[1].split("</table>")[0]
    cells = re.findall(r"<td>(.*?)</td>", matrix)
    # Brand -> Brand: 2 kudos among 3 people; Digital -> Brand (2 people) is held back, and
    # so is Brand -> Digital, or the week's figures less it would give it away.
    held = '<span class="held">fewer than 3 people</span>'
    assert cells == ["2", held, held, "2"]
    assert "Digital -> Brand" not in page


def test_csv_exports_have_their_columns_and_are_audited(
    client: httpx.Client, file_engine: Engine
) -> None:
    headers = {HEADER: "mia@example.com"}
    got = client.get("/export/collaboration.csv?what=engagement&every=week", headers=headers)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0] == [
        "period", "group_by", "group", "people", "active_givers", "givers_per_head",
        "active_receivers", "receivers_per_head", "kudos_received", "received_by_non_givers",
        "note",
    ]  # fmt: skip
    by_group = {(r[1], r[2]): r for r in rows[1:]}
    assert by_group[("team", "Brand")][3:5] == ["5", "3"]
    # Digital (3 people) would leave the one person with no team alone beside the total.
    assert by_group[("team", "Digital")][3:] == [""] * 7 + ["fewer than 3 people"]
    team = client.get("/export/collaboration.csv?what=team&every=week", headers=headers)
    cells = list(csv.reader(io.StringIO(team.text)))
    assert cells[0] == ["window", "boundary", "giver_side", "recipient_side", "kudos", "note"]
    assert [r[2:] for r in cells[1:]] == [
        ["Brand", "Brand", "2", ""],
        ["Brand", "Digital", "", "fewer than 3 people"],
        ["Digital", "Brand", "", "fewer than 3 people"],
        ["Digital", "Digital", "2", ""],
    ]
    assert client.get("/export/collaboration.csv?what=x", headers=headers).status_code == 404
    with Session(file_engine) as s:
        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "export.collaboration"))
        assert [e.subject for e in audited] == ["collaboration:engagement", "collaboration:team"]

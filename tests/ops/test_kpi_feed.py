"""The KPI feed as a CTMS or CRM uses it: the signed webhook over HTTP, and the CSV import."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cli.main import main
from bot.kpi.webhook import sign
from handlers.milestones import Milestone
from handlers.policy import KudosPolicy
from storage.models import KpiEvent, Member, MilestoneAward
from tests.fakes.slack_api import FakeSlack
from tests.harness import TOKEN, Server

SECRET = "kpi-feed-secret-0123456789abcdef0123"
FIRST_PATIENT = Milestone(
    id="fpi", title="First patient in", source="kpi", threshold="each", points=4,
    team="Oncology", kind="first_patient_in",
)  # fmt: skip


def signed(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    return {"X-Plaudit-Timestamp": stamp, "X-Plaudit-Signature": sign(secret, stamp, body)}


def events(*rows: dict[str, object]) -> bytes:
    return json.dumps({"events": list(rows)}).encode()


FPI: dict[str, object] = {
    "id": "ctms-7",
    "kind": "first_patient_in",
    "date": "2026-11-02",
    "title": "ONC-301",
}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN, team_id="T0001") as fake:
        yield fake


def stored(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.exec(select(KpiEvent.event_id)))


def test_the_webhook_refuses_what_is_unsigned_stale_or_malformed_and_stores_once(
    file_engine: Engine, slack: FakeSlack
) -> None:
    with Session(file_engine) as session:
        session.add(Member(slack_team_id="T0001", slack_user_id="U1", display_name="Ana",
                           email="ana@example.com", team="Oncology"))  # fmt: skip
        session.commit()
    server = Server(
        file_engine,
        slack_api_url=slack.base_url,
        policy=KudosPolicy(recognition_channel="C0KUDOS"),
        milestones=(FIRST_PATIENT,),
        env={"PLAUDIT_KPI_WEBHOOK_SECRET": SECRET},
    ).start()
    url = f"{server.base_url}/webhooks/kpi"
    body = events(FPI)
    try:
        refused = [
            httpx.post(url, content=body),
            httpx.post(url, content=body, headers=signed(body, secret="x" * 40)),
            httpx.post(url, content=body, headers=signed(body, at=time.time() - 600)),
            httpx.post(url, content=body, headers=signed(events(dict(FPI, id="other")))),
        ]
        assert [r.status_code for r in refused] == [401] * 4
        assert "signature" in refused[1].json()["detail"]
        for bad in (b"{", b"[1]", events(dict(FPI, date="2026-02-30")), events(), b'{"id": 5}'):
            answer = httpx.post(url, content=bad, headers=signed(bad))
            assert answer.status_code == 400, bad
            assert answer.json()["error"] == "bad_request"
        assert stored(file_engine) == []
        first = httpx.post(url, content=body, headers=signed(body))
        assert first.json() == {"stored": 1, "repeated": 0, "awarded": 1}
        again = httpx.post(url, content=body, headers=signed(body))
        assert again.json() == {"stored": 0, "repeated": 1, "awarded": 0}
        changed = events(dict(FPI, title="ONC-302"))
        conflict = httpx.post(url, content=changed, headers=signed(changed))
        assert conflict.status_code == 409 and "ctms-7" in conflict.json()["detail"]
        (post,) = slack.wait_for("chat.postMessage", timeout=10)
    finally:
        server.stop()
    assert post.args["channel"] == "C0KUDOS" and "First patient in" in post.args["text"]
    assert stored(file_engine) == ["ctms-7"]
    with Session(file_engine) as session:
        (award,) = session.exec(select(MilestoneAward)).all()
        assert award.points == 4 and award.title == "First patient in: ONC-301"
    assert len(slack.calls("chat.postMessage")) == 1


def test_the_webhook_is_off_without_a_secret(file_engine: Engine) -> None:
    server = Server(file_engine, slack_api_url=None).start()
    try:
        answer = httpx.post(f"{server.base_url}/webhooks/kpi", content=events(FPI))
    finally:
        server.stop()
    assert answer.status_code == 404 and "PLAUDIT_KPI_WEBHOOK_SECRET" in answer.json()["detail"]


def test_the_import_checks_the_whole_file_first_and_stores_each_event_once(
    cli_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path
    bad = workdir / "bad.csv"
    bad.write_text(
        "ID,Kind,Date,Team,Value\n"
        "crm-1,campaign launched,2026-10-01,Brand,\n"
        "crm-2,site activated,2026-10-xx,Oncology,1\n",
        encoding="utf-8",
    )
    assert main(["kpi", "import", str(bad)]) == 2
    assert "bad.csv, line 3: date:" in capsys.readouterr().err
    good = workdir / "good.csv"
    good.write_text(
        "id,kind,date,team,value,title\n"
        "crm-1,campaign launched,2026-10-01,Brand,,Spring launch\n"
        "crm-2,site activated,2026-10-02,Oncology,1,\n",
        encoding="utf-8",
    )
    assert main(["kpi", "import", str(good)]) == 0
    assert "2 event(s) stored, 0 already there." in capsys.readouterr().out
    assert main(["kpi", "import", str(good)]) == 0
    assert "0 event(s) stored, 2 already there." in capsys.readouterr().out
    with Session(cli_engine) as session:
        rows = session.exec(select(KpiEvent).order_by(KpiEvent.event_id)).all()
    assert [(r.kind, r.team, r.value, r.source) for r in rows] == [
        ("campaign_launched", "Brand", None, "csv"),
        ("site_activated", "Oncology", Decimal(1), "csv"),
    ]

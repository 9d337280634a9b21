"""`plaudit report`: the quarter on one page, from the demo's Larkspur Pharma, as HTML and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.cli.main import main
from bot.cli.report import HEADER, html, rows
from bot.demo import app as demo
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers.collaboration import Bucket
from handlers.exports import to_csv
from handlers.policy import KudosPolicy
from handlers.report import Quarter, _crossing, quarter
from storage import migrate
from storage.db import make_engine


@pytest.fixture(scope="module")
def larkspur(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quarter]:
    path = tmp_path_factory.mktemp("report") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    runtime = Runtime(engine=engine, policy=demo.policy(KudosPolicy()), rules=default_rules())
    now = runtime.clock.now()
    demo.seed(runtime, now=now)
    period = runtime.policy.sprints.sprint_of(now)
    assert period is not None
    rollout = runtime.policy.rollout
    yield runtime.run_sync(lambda s: quarter(s, period, now=now, least=5, rollout=rollout))
    runtime.close()
    engine.dispose()


def test_the_quarter_gathers_every_section_from_the_thresholded_sources(
    larkspur: Quarter,
) -> None:
    q = larkspur
    assert q.everyone is not None and q.everyone.heads == 60 and q.everyone.givers
    assert q.rounds and all(0 <= r.participation <= 1 for r in q.rounds)
    assert set(q.crossing) == {"team", "function"}
    assert all(s.share is None or 0 <= s.share <= 1 for s in q.crossing.values())
    assert q.comparison is not None and q.comparison.pilot.id == "launch-pilot"
    titles = {a.title for a in q.awards}
    assert any(t.startswith("First patient in") for t in titles)
    assert dict(q.kpis).get("site_activated", 0) > 0


def test_the_html_prints_every_section_and_the_csv_matches_it(larkspur: Quarter) -> None:
    page = html(larkspur)
    for heading in (
        "Participation",
        "Pulse surveys and eNPS",
        "Across teams and functions",
        "Pilots against control",
        "Milestones and KPIs",
    ):
        assert f"<h2>{heading}</h2>" in page
    assert "@media print" in page and "None" not in page
    assert "A difference-in-differences holds only if" in page
    table = list(csv.reader(io.StringIO(to_csv(HEADER, rows(larkspur)))))
    assert table[0] == ["section", "measure", "value", "people"]
    sections = {r[0] for r in table[1:]}
    assert {"participation", "surveys", "cross-functional", "pilots", "kpis"} <= sections


def test_the_command_names_a_bad_period_and_writes_a_file(
    cli_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--period", "1999Q1"]) == 2
    assert "--period 1999Q1: no such sprint" in capsys.readouterr().err
    out = tmp_path / "q.csv"
    assert main(["report", "--format", "csv", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith('"section","measure","value","people"')
    assert main(["report", "--out", str(tmp_path / "q.html")]) == 0
    assert "<h1>Recognition report " in (tmp_path / "q.html").read_text(encoding="utf-8")


def test_the_quarter_share_is_held_when_one_of_its_months_is(session: Session) -> None:
    from tests.handlers.test_collaboration import HOUR, kudos, people

    names = [(f"a{n}", "A", "Sales") for n in range(3)] + [(f"b{n}", "B", "IT") for n in range(3)]
    ids = people(session, *names)
    october = datetime(2026, 10, 5, tzinfo=UTC)
    for n in range(3):  # October: six people behind the kudos across teams
        kudos(session, ids[f"a{n}"], ids[f"b{n}"], at=october + n * HOUR)
    session.commit()
    span = Bucket("2026Q4", datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC))
    shown = _crossing(session, span, 5)[0]["team"]
    assert (shown.crossing, shown.total) == (3, 3)
    kudos(session, ids["a0"], ids["b0"], at=datetime(2026, 11, 10, tzinfo=UTC))  # two people
    session.commit()
    held = _crossing(session, span, 5)[0]["team"]
    assert held.crossing is None and held.total is None

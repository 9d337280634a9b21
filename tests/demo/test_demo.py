"""`plaudit demo`: the seeded organisation, the one-time sign-in link, and the sandbox."""

from __future__ import annotations

import itertools
import os
import queue
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.bigcommerce.sync import ORDERS_CURSOR
from bot.cli.main import main
from bot.demo import app as demo
from bot.demo import store as demo_store
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers import leaderboard, surveys, time_to_market
from handlers.commerce import get_cursor
from handlers.policy import KudosPolicy
from storage.models import (
    BcOrder,
    Member,
    MilestoneAward,
    MilestoneShare,
    Outbox,
    Recognition,
    Review,
    SurveyRound,
)
from tests.ops.test_cli import free_port

ROOT = Path(__file__).resolve().parents[2]
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
    assert all(e and e.endswith("@larkspur.example") for e in emails)
    again = demo.seed(runtime, now=NOW)
    assert again == {"seeded": False, "members": members, "open_round": report["open_round"]}
    assert counts(file_engine) == (members, recognitions, reviews)
    runtime.close()


def test_seed_has_monthly_pulse_rounds_and_keeps_one_open(file_engine: Engine) -> None:
    """Four closed anonymous rounds whose results clear the threshold and make a trend,
    and the current round open; a database reused later gets a fresh round."""
    runtime = Runtime(engine=file_engine, policy=demo.policy(KudosPolicy()), rules=default_rules())
    report = demo.seed(runtime, now=NOW)
    with Session(file_engine) as s:
        rounds = s.exec(select(SurveyRound).order_by(col(SurveyRound.number))).all()
        assert [r.status for r in rounds] == ["closed"] * 4 + ["open"]
        assert rounds[-1].id == report["open_round"] and rounds[-1].closes_at > NOW
        assert all(r.anonymous for r in rounds)
        gaps = {(b.opened_at - a.opened_at).days for a, b in itertools.pairwise(rounds)}
        assert gaps == {30}
        last_closed = rounds[3]
        assert last_closed.id is not None and last_closed.salt is None
        results = surveys.results(s, last_closed.id)
    assert results.respondents >= 40 and not any(q.hidden for q in results.questions)
    assert [p.number for p in results.trend] == [1, 2, 3]
    assert all(p.participation >= 0.6 and "enps" in p.scores for p in results.trend)

    later = NOW + timedelta(days=30)
    assert demo.seed(runtime, now=later)["open_round"] not in (None, report["open_round"])
    with Session(file_engine) as s:
        rounds = s.exec(select(SurveyRound).order_by(col(SurveyRound.number))).all()
    assert [r.status for r in rounds] == ["closed"] * 5 + ["open"]
    assert rounds[-1].closes_at > later
    runtime.close()


def test_seed_awards_campaign_milestones_from_the_store_sync(file_engine: Engine) -> None:
    """The built-in store is read by the real client and sync: orders land in the local copy
    with a cursor, and the milestones that hold are awarded once, shared and announced."""
    runtime = Runtime(engine=file_engine, policy=demo.policy(KudosPolicy()), rules=default_rules())
    report = demo.seed(runtime, now=NOW)
    assert report["orders"] == demo_store.ORDERS
    with Session(file_engine) as s:
        every = s.exec(select(MilestoneAward)).all()
        awards = {a.milestone_id: a for a in every}
        assert set(awards) == {
            "care-store-live",
            "adherence-live",
            "hcp-welcome-200",
            "care-store-250-orders",
            "campaign-revenue",
            "first-patient-in",  # from the CTMS's KPI events, once each
        }  # the congress coupon is short of its 100 redemptions
        assert sorted(report["milestones"]) == sorted(a.title for a in every)
        assert sorted(a.title for a in every if a.milestone_id == "first-patient-in") == [
            "First patient in: LARK-308",
            "First patient in: LARK-317",
        ]
        assert awards["campaign-revenue"].points == 40  # capped
        assert {a.sprint for a in awards.values()} == {"2026Q4"}
        for award in awards.values():
            shared = s.exec(select(MilestoneShare).where(MilestoneShare.award_id == award.id))
            assert sum(x.points for x in shared) == award.points
        assert s.exec(select(func.count()).select_from(BcOrder)).one() == demo_store.ORDERS
        assert get_cursor(s, ORDERS_CURSOR) is not None
        announced = s.exec(select(Outbox).where(Outbox.template == "milestone.reached")).all()
        assert len(announced) == len(every)
        sprint = runtime.policy.sprints.sprint_of(NOW)
        assert sprint is not None
        people = leaderboard.board(s, sprint, top=5).rows
        teams = {r.name: r for r in leaderboard.board(s, sprint, by="team", top=None).rows}
    chloe = next(r for r in people if r.name == "Chloe Dubois")
    assert chloe.milestone_points >= 15 and chloe.points > chloe.recognition_points
    assert teams["Digital"].milestone_points > 0
    assert teams["Field"].milestone_points == 2 * 8  # no store milestone; two first patients in
    # Read again, the store awards nothing twice.
    assert demo_store.sync_store(runtime, demo.MILESTONES, now=NOW).awarded == []
    # Earlier syncs saw promotions as drafts: time to market from first seen to live, the
    # adherence ones credited to Brand; the first sync's and the one not live yet left out.
    with Session(file_engine) as s:
        times = {t.team: t for t in time_to_market.by_team(s, demo.MILESTONES)}
    assert set(times) == {"Brand", ""}
    assert (times["Brand"].promotions, times["Brand"].median_days) == (2, 13.0)
    assert (times["Brand"].longest_days, times["Brand"].latest) == (
        15.0,
        "Adherence refill reminder",
    )
    assert (times[""].promotions, times[""].median_days) == (1, 6.0)
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
        [sys.executable, "-m", "bot.cli.main", "demo", "--port", str(port)],
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
        deadline = time.monotonic() + 30  # the link is printed before the server listens
        while True:
            try:
                httpx.get(f"{base}/dashboard/login", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "".join(seen)
                time.sleep(0.1)
        assert (tmp_path / "plaudit-demo.db").exists()
        assert not (tmp_path / "real.db").exists()
        # The sandbox seals its PV cases as an installation does, with a key of its own.
        key = tmp_path / "plaudit-demo.db.pv-key"
        assert key.exists() and key.stat().st_mode & 0o077 == 0
        with sqlite3.connect(tmp_path / "plaudit-demo.db") as db:
            texts = [t for (t,) in db.execute("SELECT text FROM pv_case")]
        assert texts and all(t.startswith("pv1:") for t in texts)
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


def sign_in(browser: httpx.Client, link: str) -> str:
    """Use the one-time link; returns the sandbox's CSRF token."""
    assert browser.get(link).status_code == 303
    page = browser.get("/dashboard/sandbox")
    assert page.status_code == 200
    return csrf_of(page)


def test_the_sandbox_answers_the_open_pulse_round(running: tuple[str, str]) -> None:
    """Answers go through the survey use case; the page shows what the member is told and
    the redrawn Slack DM and Teams card, with the answers marked."""
    base, link = running
    with httpx.Client(base_url=base, timeout=10) as browser, httpx.Client(timeout=10) as other:
        token = sign_in(browser, link)
        page = browser.get("/dashboard/sandbox")
        assert "Answer the pulse survey" in page.text and "Monthly pulse, round 5" in page.text
        assert 'type="radio" id="q_energy-4" name="q_energy" value="4"' in page.text
        assert '<label for="q_comment">' in page.text

        who = "sofia.rossi@larkspur.example"
        answers = {
            "q_energy": "4",
            "q_enps": "9",
            "q_blocker": "Approvals",
            "q_comment": "The <b>MLR</b> queue is shorter",
        }
        done = browser.post(
            "/dashboard/sandbox/survey", data={"csrf": token, "respondent": who, **answers}
        )
        assert done.status_code == 200, done.text
        assert "Answers saved (4)" in done.text
        assert "Slack direct message (Block Kit)" in done.text
        assert "Teams chat card (Adaptive Card)" in done.text
        assert "Slack post" not in done.text  # the kudos preview is not shown
        # The redrawn DM marks the answers: the 4 button, the Approvals option, the text.
        assert re.search(r'<li class="chosen">4 <span class="sr-only">\(chosen\)', done.text)
        assert re.search(r'<li class="chosen">Approvals <span class="sr-only">', done.text)
        assert "Your answer: The &lt;b&gt;MLR&lt;/b&gt; queue is shorter" in done.text
        assert "<b>MLR</b>" not in done.text
        assert 'value="4" checked' in done.text  # the form keeps what was posted
        assert "Nothing more: the survey message is redrawn" in done.text

        safety = browser.post(
            "/dashboard/sandbox/survey",
            data={
                "csrf": token,
                "respondent": who,
                "q_energy": "9",
                "q_comment": "my patient was hospitalized after taking Somnira",
            },
        )
        assert safety.status_code == 200
        assert "Answers saved (1)" in safety.text
        assert "Please pick a number from 1 to 5." in safety.text
        assert "passed to drug safety without your name." in safety.text
        assert "<td>survey</td><td>anonymous</td>" in browser.get("/dashboard/pv").text

        phi = browser.post(
            "/dashboard/sandbox/survey",
            data={
                "csrf": token,
                "respondent": who,
                "q_comment": "Patient John Smith, DOB 03/04/1950, was late",
            },
        )
        assert "Patient details were removed from your answer" in phi.text
        assert "John Smith" not in phi.text.split("What is kept")[1]

        empty = browser.post("/dashboard/sandbox/survey", data={"csrf": token, "respondent": who})
        assert empty.status_code == 400 and "Pick or write at least one answer." in empty.text
        nobody = browser.post(
            "/dashboard/sandbox/survey", data={"csrf": token, "respondent": "x@y.z", **answers}
        )
        assert nobody.status_code == 400 and "Pick a member to answer as." in nobody.text
        forged = browser.post("/dashboard/sandbox/survey", data={"respondent": who, **answers})
        assert forged.status_code == 403
        anonymous = other.post(
            f"{base}/dashboard/sandbox/survey", data={"csrf": token, "respondent": who}
        )
        assert anonymous.status_code == 401

        board = browser.get("/dashboard/")
        assert "campaign milestones" in board.text
        digital = re.search(
            r'<th scope="row">Digital</th><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>', board.text
        )
        assert digital and int(digital.group(3)) > 0

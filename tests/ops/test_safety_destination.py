"""Where drug-safety cases go: `plaudit serve` will not serve chat without a destination,
`/readyz` and `/healthz` say where cases go and how many reached no one, and a kudos the
adapters refuse (too fast, too long) still reaches drug safety."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from bot.chat.ratelimit import PerUserLimit
from bot.cli.main import main
from handlers import safety
from handlers.policy import KudosPolicy
from storage.models import Outbox, PvCase, Recognition
from tests.fakes.bot_connector import FakeConnector
from tests.fakes.slack_api import FakeSlack
from tests.harness import AUDIT_KEY, PV_KEY, TOKEN, Server, eventually, payload
from tests.ops.test_cli import ROOT, free_port, with_ana_and_dana
from tests.teams.test_teams_http import activity, card_text, send, teams_server

AE = "for handling the call where a patient had a severe rash after the second dose of Cardiva"
PASSED = "passed to drug safety, who may contact you"
NOT_ROUTED = "no drug-safety destination is configured"
KEYS = (
    "compliance.safety_channel",
    "compliance.safety_webhook",
    "compliance.safety_email",
    "teams.safety_channel",
)
NOWHERE = KudosPolicy(recognition_channel="C0KUDOS")
TEAMS_SAFETY = "19:safety0001@thread.tacv2"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("SLACK_", "MICROSOFT_", "PLAUDIT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def cases(engine: Engine) -> list[PvCase]:
    with Session(engine) as s:
        return list(s.exec(select(PvCase)))


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


# -------------------------------------------------------------------- plaudit serve


def test_serve_refuses_to_start_slack_without_a_drug_safety_destination(workdir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": "secret-0123456789",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "serve", "--port", str(free_port())],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (said,) = [line for line in proc.stderr.splitlines() if line.startswith("plaudit: ")]
    for key in KEYS:
        assert key in said  # all in one paragraph
    assert "no drug-safety destination" in said
    assert "listening" not in proc.stdout
    assert not (workdir / "cli.db").exists()  # refused before touching the database


def test_serve_refuses_chat_without_a_pv_key_and_takes_one_from_a_file(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr("bot.http.server.serve", lambda *a, **k: started.append(a) or 0)
    (workdir / "plaudit.yaml").write_text("compliance:\n  safety_channel: C0SAFETY\n")
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret-0123456789")
    monkeypatch.setenv("PLAUDIT_AUDIT_KEY", AUDIT_KEY)
    assert main(["serve", "--port", "1"]) == 2
    said = capsys.readouterr().err
    assert "PLAUDIT_PV_KEY is required" in said and "plaudit pv keygen" in said
    assert started == [] and not (workdir / "cli.db").exists()

    (workdir / "pv.key").write_text("not a key\n")
    monkeypatch.setenv("PLAUDIT_PV_KEY_FILE", str(workdir / "pv.key"))
    assert main(["serve", "--port", "1"]) == 2
    assert "PLAUDIT_PV_KEY_FILE" in capsys.readouterr().err and started == []

    assert main(["pv", "keygen"]) == 0
    (workdir / "pv.key").write_text(capsys.readouterr().out)
    assert main(["serve", "--port", "1"]) == 0
    assert len(started) == 1


def test_serve_refuses_teams_and_destinations_whose_sender_is_off(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def served(*args: object, **kwargs: object) -> None:
        raise AssertionError("serve started without a drug-safety destination it can reach")

    monkeypatch.setattr("bot.http.server.serve", served)
    monkeypatch.setenv("PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED", "true")
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert all(key in err for key in KEYS), err
    # A mailbox without an SMTP server, and a Slack channel while only Teams is on, would
    # leave every case waiting in the outbox.
    (workdir / "plaudit.yaml").write_text(
        "compliance:\n  safety_email: pv@example.com\n  safety_channel: C0SAFETY\n"
    )
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "compliance.safety_email is set but PLAUDIT_SMTP_HOST is not" in err
    assert "compliance.safety_channel is set but Slack is off" in err


def test_commands_that_do_not_serve_chat_need_no_destination(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret-0123456789")
    with_ana_and_dana().dispose()
    assert main(["kudos", "--as", "ana@example.com", "@dana for the launch checklist"]) == 0
    assert main(["kudos", "--as", "ana@example.com", f"@dana {AE}"]) == 1
    out = capsys.readouterr().out
    assert NOT_ROUTED in out and "passed to drug safety" not in out
    from bot.demo import seed

    assert safety.routed(seed.policy(KudosPolicy()))  # the demo queues its alerts too


def test_serve_says_where_cases_go(workdir: Path) -> None:
    (workdir / "plaudit.yaml").write_text(
        "compliance:\n  safety_webhook: http://127.0.0.1:9/pv\n  safety_email: pv@example.com\n"
    )
    port = free_port()
    with FakeSlack(token=TOKEN) as slack:
        env = dict(os.environ) | {
            "PYTHONPATH": str(ROOT),
            "PLAUDIT_PV_KEY": PV_KEY,
            "PLAUDIT_AUDIT_KEY": AUDIT_KEY,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": "secret-0123456789",
            "SLACK_API_URL": slack.base_url,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli.main", "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            url = f"http://127.0.0.1:{port}/readyz"

            def ready() -> bool:
                try:
                    return httpx.get(url, timeout=1).json().get("drug_safety") is not None
                except (httpx.TransportError, ValueError):
                    return False

            eventually(ready, timeout=90)
            assert httpx.get(url, timeout=2).json()["drug_safety"] == ["webhook"]
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
    line = next(x for x in out.splitlines() if "Drug safety:" in x)
    assert "go to webhook" in line
    assert "compliance.safety_email is set but PLAUDIT_SMTP_HOST is not" in line


# -------------------------------------------------------------------- /readyz and /healthz


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, team_id="T0001")
    fake.add_user("U0001", "alice", email="alice@example.com", tz="Europe/London")
    fake.add_user("U0002", "bob", email="bob@example.com", tz="Europe/Berlin")
    with fake:
        yield fake


@pytest.fixture
def server(file_engine: Engine, slack: FakeSlack) -> Iterator[Server]:
    running = Server(file_engine, slack_api_url=slack.base_url).start()
    yield running
    running.stop()


def test_readyz_lists_where_drug_safety_cases_go(server: Server) -> None:
    response = httpx.get(f"{server.base_url}/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["drug_safety"] == ["slack:C0SAFETY"]


def test_readyz_leaves_out_destinations_whose_sender_is_off(
    file_engine: Engine, slack: FakeSlack
) -> None:
    policy = KudosPolicy(
        safety_channel="C0SAFETY",
        safety_webhook="http://127.0.0.1:9/pv",
        safety_email="pv@example.com",  # no PLAUDIT_SMTP_HOST: no email sender
        teams_safety_channel=TEAMS_SAFETY,  # Teams is off
    )
    running = Server(file_engine, slack_api_url=slack.base_url, policy=policy).start()
    try:
        body = httpx.get(f"{running.base_url}/readyz").json()
        assert body["drug_safety"] == ["slack:C0SAFETY", "webhook"]
    finally:
        running.stop()


def test_without_a_destination_not_ready_and_every_case_counted_undelivered(
    file_engine: Engine, slack: FakeSlack
) -> None:
    running = Server(file_engine, slack_api_url=slack.base_url, policy=NOWHERE).start()
    try:
        ready = httpx.get(f"{running.base_url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not ready" and ready.json()["drug_safety"] == []
        assert httpx.get(f"{running.base_url}/healthz").json()["pv_undelivered"] == 0
        answer = running.command(f"<@U0002|bob> {AE}").json()["text"]
        assert NOT_ROUTED in answer and "passed to drug safety" not in answer
        assert len(cases(file_engine)) == 1
        assert httpx.get(f"{running.base_url}/healthz").json()["pv_undelivered"] == 1
    finally:
        running.stop()


def test_healthz_does_not_count_a_case_that_was_delivered(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    server.command(f"<@U0002|bob> {AE}")
    eventually(lambda: any(c.args.get("channel") == "C0SAFETY" for c in slack.calls()))
    assert httpx.get(f"{server.base_url}/healthz").json()["pv_undelivered"] == 0


# -------------------------------------------------------------------- refused in the adapters


def test_slack_too_fast_still_reaches_drug_safety(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    server.runtime.limiter = PerUserLimit(per_minute=6, burst=1)
    assert server.command("help").status_code == 200
    answer = server.command(f"<@U0002|bob> {AE}", trigger_id="fast-1").json()["text"]
    assert "faster than Plaudit accepts" in answer and PASSED in answer
    (case,) = cases(file_engine)
    assert AE in case.text and case.reporter.startswith("alice")
    assert count(file_engine, Recognition) == 0
    eventually(lambda: any(c.args.get("channel") == "C0SAFETY" for c in slack.calls()))
    plain = server.command("<@U0002|bob> for the launch checklist").json()["text"]
    assert "faster" in plain and "drug safety" not in plain
    assert len(cases(file_engine)) == 1


def test_slack_too_long_still_reaches_drug_safety(server: Server, file_engine: Engine) -> None:
    text = f"<@U0002|bob> {AE} " + "and thanks again " * 300
    answer = server.command(text, trigger_id="long-1").json()["text"]
    assert "too long" in answer and PASSED in answer
    assert len(cases(file_engine)) == 1 and count(file_engine, Recognition) == 0
    server.command(text, trigger_id="long-1")  # Slack retrying the same command
    assert len(cases(file_engine)) == 1


def test_slack_form_too_long_or_refused_still_reaches_drug_safety(
    server: Server, file_engine: Engine
) -> None:
    submission = payload("view_submission_kudos.json")
    values = submission["view"]["state"]["values"]
    values["message"]["text"]["value"] = AE + " and thanks again" * 300
    body = server.interaction(submission).json()
    assert body["response_action"] == "errors" and PASSED in body["errors"]["message"]
    assert len(cases(file_engine)) == 1
    values["message"]["text"]["value"] = AE
    values["recipients"]["users"]["selected_users"] = [submission["user"]["id"]]
    submission["view"]["hash"] = "other"
    body = server.interaction(submission).json()
    shown = body["errors"]["recipients"]
    assert "yourself" in shown and PASSED in shown  # said in full, not cut at 150 characters
    assert len(cases(file_engine)) == 2 and count(file_engine, Recognition) == 0


@pytest.fixture
def connector() -> Iterator[FakeConnector]:
    fake = FakeConnector()
    with fake:
        fake.add_people()
        yield fake


@pytest.fixture
def teams(file_engine: Engine) -> Iterator[Server]:
    running = teams_server(file_engine, policy=KudosPolicy(teams_safety_channel=TEAMS_SAFETY))
    running.start()
    yield running
    running.stop()


def replies(connector: FakeConnector, conversation: str) -> str:
    return " ".join(str(s.body.get("text")) for s in connector.activities(conversation))


def test_teams_too_fast_still_reaches_drug_safety(
    teams: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    teams.runtime.limiter = PerUserLimit(per_minute=6, burst=1)
    first = activity("message_kudos_personal.json", connector, id="t1", text="help", entities=[])
    send(teams, first)
    mention = activity("message_kudos_personal.json", connector, id="t2")
    mention["text"] = f"kudos <at>Megan Bowen</at> {AE}"
    send(teams, mention)
    chat = first["conversation"]["id"]
    eventually(lambda: PASSED in replies(connector, chat))
    assert "faster than Plaudit" in replies(connector, chat)
    card = activity("invoke_adaptive_card_action.json", connector, id="t3")
    card["value"]["action"]["data"]["message"] = AE
    shown = card_text(send(teams, card).json()["value"])
    assert "faster than Plaudit" in shown and PASSED in shown
    assert len(cases(file_engine)) == 2 and count(file_engine, Recognition) == 0
    eventually(lambda: any(o.channel == TEAMS_SAFETY for o in outbox(file_engine)), timeout=5)


def test_teams_too_long_still_reaches_drug_safety(
    teams: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    long = f"{AE} " + "and thanks again " * 300
    mention = activity("message_kudos_personal.json", connector, id="l1")
    mention["text"] = f"kudos <at>Megan Bowen</at> {long}"
    send(teams, mention)
    chat = mention["conversation"]["id"]
    eventually(lambda: PASSED in replies(connector, chat))
    assert "too long" in replies(connector, chat)
    card = activity("invoke_adaptive_card_action.json", connector, id="l2")
    card["value"]["action"]["data"]["message"] = long
    shown = card_text(send(teams, card).json()["value"])
    assert "keep it shorter" in shown and PASSED in shown
    assert len(cases(file_engine)) == 2 and count(file_engine, Recognition) == 0


def outbox(engine: Engine) -> list[Outbox]:
    with Session(engine) as s:
        return list(s.exec(select(Outbox)))


def test_serve_refuses_chat_without_an_audit_key_and_takes_one_from_a_file(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr("bot.http.server.serve", lambda *a, **k: started.append(a) or 0)
    (workdir / "plaudit.yaml").write_text("compliance:\n  safety_channel: C0SAFETY\n")
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret-0123456789")
    monkeypatch.setenv("PLAUDIT_PV_KEY", PV_KEY)
    assert main(["serve", "--port", "1"]) == 2
    said = capsys.readouterr().err
    assert "PLAUDIT_AUDIT_KEY is required" in said and "plaudit audit keygen" in said
    assert started == [] and not (workdir / "cli.db").exists()

    (workdir / "audit.key").write_text("too short\n")
    monkeypatch.setenv("PLAUDIT_AUDIT_KEY_FILE", str(workdir / "audit.key"))
    assert main(["serve", "--port", "1"]) == 2
    assert "PLAUDIT_AUDIT_KEY_FILE" in capsys.readouterr().err and started == []

    assert main(["audit", "keygen"]) == 0
    (workdir / "audit.key").write_text(capsys.readouterr().out)
    assert main(["serve", "--port", "1"]) == 0
    assert len(started) == 1

"""The `plaudit` command as a user runs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlmodel import Session

from bot.cli.main import main
from storage import migrate
from storage.db import make_engine
from storage.models import Member
from tests.harness import AUDIT_KEY, PV_KEY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "PLAUDIT_DATABASE_URL",
        "PLAUDIT_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def with_ana_and_dana(dana: str = "Dana") -> Engine:
    """Migrate the CLI's database and add two members; returns its engine."""
    main(["db", "upgrade"])
    engine = make_engine(os.environ["PLAUDIT_DATABASE_URL"])
    with Session(engine) as s:
        s.add(Member(display_name="Ana", email="ana@example.com"))
        s.add(Member(display_name=dana, email="dana@example.com"))
        s.commit()
    return engine


def test_check_prints_json_and_exits_by_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--json", "thanks for the site activation email"]) == 0
    clean = json.loads(capsys.readouterr().out)
    assert clean == {"outcome": "pass", "findings": []}
    assert main(["check", "--json", "thanks for helping patient MRN 1234567"]) == 1
    flagged = json.loads(capsys.readouterr().out)
    assert flagged["outcome"] != "pass"
    finding = flagged["findings"][0]
    assert set(finding) == {
        "rule",
        "category",
        "start",
        "end",
        "match",
        "message",
        "suggestion",
        "cites",
    }


def test_db_upgrade_and_current(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    head = ScriptDirectory(str(migrate.MIGRATIONS)).get_current_head()
    assert f"revision {head}" in capsys.readouterr().out
    assert main(["db", "current"]) == 0


def test_kudos_from_the_terminal(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = with_ana_and_dana("Dana Reyes")
    engine.dispose()
    capsys.readouterr()
    assert (
        main(
            [
                "kudos",
                "--as",
                "ana@example.com",
                "@dana thanks for the launch checklist #collaboration",
            ]
        )
        == 0
    )
    assert "Recorded kudos" in capsys.readouterr().out
    assert (
        main(["kudos", "--as", "ana@example.com", "@nobody thanks for the launch checklist"]) == 1
    )
    assert "can't find" in capsys.readouterr().out
    assert main(["kudos", "--as", "ghost@example.com", "@dana thanks for everything"]) == 2


def test_a_broken_plaudit_yaml_stops_the_command(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "plaudit.yaml").write_text("recognition:\n  max_recipients: -1\n")
    assert main(["kudos", "--as", "a@example.com", "@b for the launch"]) == 2
    err = capsys.readouterr().err
    assert "plaudit.yaml: recognition.max_recipients" in err


def test_audit_verify(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    main(["db", "upgrade"])
    monkeypatch.delenv("PLAUDIT_AUDIT_KEY", raising=False)
    assert main(["audit", "verify"]) == 2
    assert "set PLAUDIT_AUDIT_KEY" in capsys.readouterr().err
    monkeypatch.setenv("PLAUDIT_AUDIT_KEY", AUDIT_KEY)
    assert main(["audit"]) == 0  # verify is the default
    assert "intact: 0 sealed entries" in capsys.readouterr().out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(workdir: Path, port: int, *extra: str, **env: str) -> subprocess.Popen[str]:
    """`plaudit serve` in a subprocess, with no Slack settings but those given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "serve", "--port", str(port), *extra],
        cwd=workdir,
        env=clean
        | {"PYTHONPATH": str(ROOT), "PLAUDIT_PV_KEY": PV_KEY, "PLAUDIT_AUDIT_KEY": AUDIT_KEY}
        | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_serve_starts_with_no_tokens_and_says_what_is_off(workdir: Path) -> None:
    port = free_port()
    proc = serve(workdir, port)
    try:
        deadline = time.monotonic() + 90
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health is not None and health.status_code == 200
        assert health.json()["slack"] is False
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert "Slack: off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in out
    assert (workdir / "cli.db").exists()


def test_check_reads_standard_input(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("patient MRN 1234567 called"))
    assert main(["check", "-", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["findings"][0]["match"] == "MRN 1234567"


def test_check_eval_prints_scores(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = workdir / "mini.jsonl"
    corpus.write_text(
        '{"text": "thanks for the launch email", "expect": ["none"]}\n'
        '{"text": "patient MRN 1234567 called", "expect": ["phi_patient_identifier"]}\n'
        '{"text": "best wishes to the team", "expect": ["superlative_claim"]}\n',
        encoding="utf-8",
    )
    assert main(["check", "--eval", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "phi_patient_identifier" in out and "1.000  1.000  1.000" in out
    assert "non-compliant messages missed: 1/2 (50.0%)" in out
    assert "compliant messages flagged: 0/1 (0.0%)" in out


def test_review_from_the_terminal(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "plaudit.yaml").write_text(
        "compliance:\n  reviewers: [ra@example.com]\n", encoding="utf-8"
    )
    engine = with_ana_and_dana()
    engine.dispose()
    assert (
        main(["kudos", "--as", "ana@example.com", "@dana Glucentra for weight loss, nice deck"])
        == 1
    )
    capsys.readouterr()
    assert main(["review", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("#1 kudos 1 (rules:") and "offlabel" in listed
    assert main(["review", "approve", "1", "--as", "someone@example.com"]) == 1
    assert "Only reviewers" in capsys.readouterr().out
    assert main(["review", "reject", "1", "--as", "ra@example.com"]) == 2
    assert main(["review", "reject", "1", "--as", "ra@example.com", "--reason", "off-label"]) == 0
    assert "Review #1 rejected." in capsys.readouterr().out
    assert main(["review", "list"]) == 0
    assert "No kudos are waiting" in capsys.readouterr().out


def test_audit_checkpoint_then_verify_catches_an_edit_and_a_removed_tail(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    monkeypatch.setenv("PLAUDIT_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("PLAUDIT_AUDIT_CHECKPOINTS", str(workdir / "kept"))
    engine = with_ana_and_dana()
    for n in range(3):
        main(["kudos", "--as", "ana@example.com", f"@dana thanks for launch checklist number {n}"])
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    assert "3 entries not sealed yet" in capsys.readouterr().out
    assert main(["audit", "checkpoint"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["size"] == 3 and printed["origin"] == "plaudit-audit/v1"
    assert json.loads((workdir / "kept" / "checkpoint.json").read_text()) == printed
    assert main(["audit", "verify"]) == 0
    assert "intact: 3 sealed entries proved against the key" in capsys.readouterr().out

    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET actor = 'member:99' WHERE id = 2"))
    assert main(["audit", "verify"]) == 1
    said = capsys.readouterr().out
    assert "NOT intact" in said and "entry 2 (place 2) does not match its seal" in said

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE id >= 2"))
        conn.execute(text("DELETE FROM audit_checkpoint"))
    engine.dispose()
    elsewhere = workdir / "copy.json"
    elsewhere.write_text((workdir / "kept" / "checkpoint.json").read_text())
    monkeypatch.delenv("PLAUDIT_AUDIT_CHECKPOINTS")
    assert main(["audit", "verify"]) == 0  # nothing outside the database was consulted
    capsys.readouterr()
    assert main(["audit", "verify", "--checkpoint", str(elsewhere)]) == 1
    assert "signs 3 sealed entries, the database holds 1" in capsys.readouterr().out


def test_roster_import_from_a_spreadsheet_export(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = workdir / "people.csv"
    people.write_text(
        "\ufeffEmail,Display_Name,Manager_Email,Timezone,Roles\n"
        "ceo@lk.test,Morgan Lee,,Europe/London,admin\n"
        "dana@lk.test,Dana Reyes,ceo@lk.test,Europe/Berlin,reviewer\n"
        "bad-row,Nobody,,,\n",
        encoding="utf-8",
    )
    main(["db", "upgrade"])
    capsys.readouterr()
    assert main(["roster", "import", str(people)]) == 1
    out = capsys.readouterr().out
    assert "created 2, updated 0, unchanged 0, rejected 1" in out
    assert "line 4: rejected: 'bad-row' is not an email address" in out
    assert main(["roster", "import", str(people), "--deactivate-missing"]) == 1
    assert "created 0, updated 0, unchanged 2, rejected 1" in capsys.readouterr().out
    assert main(["roster", "deactivate", "dana@lk.test"]) == 0
    assert main(["roster", "deactivate", "ghost@lk.test"]) == 1
    assert main(["kudos", "--as", "ceo@lk.test", "@dana thanks for the launch checklist"]) == 1
    assert "can't find" in capsys.readouterr().out  # a leaver gets no kudos


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"name,phone\nA,1\n", "must name the columns, including email"),
        (b"email,shoe_size\na@lk.test,9\n", "unknown column(s) shoe_size"),
        (b"email\n\xff\xfe@lk.test\n", "not UTF-8"),
    ],
)
def test_roster_files_that_cannot_be_read_are_refused(
    workdir: Path, capsys: pytest.CaptureFixture[str], content: bytes, problem: str
) -> None:
    path = workdir / "people.csv"
    path.write_bytes(content)
    assert main(["roster", "import", str(path)]) == 2
    assert problem in capsys.readouterr().err


def test_import_recognitions_with_other_column_names(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = workdir / "bonusly.csv"
    export.write_text(
        "Created At,From,To,Reason,Hashtag\n"
        "2025-10-02,ana@lk.test,dana@lk.test,thanks for the launch checklist,collaboration\n"
        "2025-10-03,ana@lk.test,dana@lk.test,thanks for the deck,\n",
        encoding="utf-8",
    )
    main(["db", "upgrade"])
    capsys.readouterr()
    mapping = [
        "--map=date=Created At",
        "--map=giver_email=From",
        "--map=recipient_email=To",
        "--map=message=Reason",
        "--map=value=Hashtag",
    ]
    assert main(["import", "recognitions", str(export), *mapping]) == 0
    assert "imported 2 (flagged 0), already there 0, rejected 0" in capsys.readouterr().out
    assert main(["import", "recognitions", str(export), *mapping]) == 0
    assert "imported 0 (flagged 0), already there 2" in capsys.readouterr().out
    assert main(["import", "recognitions", str(export)]) == 2
    assert "including date" in capsys.readouterr().err


def test_privacy_export_and_erase(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with_ana_and_dana().dispose()
    out = workdir / "ana.json"
    assert main(["privacy", "export", "--member", "ana@example.com", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["member"]["display_name"] == "Ana"
    assert main(["privacy", "erase", "--member", "ana@example.com"]) == 2
    assert "--confirm" in capsys.readouterr().err
    assert main(["privacy", "erase", "--member", "ana@example.com", "--confirm"]) == 0
    assert main(["privacy", "export", "--member", "ana@example.com"]) == 1


def test_serve_with_two_workers_sends_every_post_exactly_once(workdir: Path) -> None:
    from tests.fakes.slack_api import FakeSlack
    from tests.harness import SECRET, TOKEN, signed_headers

    port = free_port()
    (workdir / "plaudit.yaml").write_text("compliance:\n  safety_channel: C0SAFETY\n")
    with FakeSlack(token=TOKEN) as slack:
        slack.add_user("U0001", "alice")
        slack.add_user("U0002", "bob")
        proc = serve(
            workdir,
            port,
            "--workers",
            "2",
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.base_url,
        )
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            for n in range(5):  # the daily allowance
                body = (
                    "command=%2Fkudos&team_id=T0001&user_id=U0001&channel_id=C0001"
                    f"&trigger_id=t{n}&text=%3C%40U0002%7Cbob%3E+for+launch+checklist+{n}"
                ).encode()
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/slack/events",
                    content=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"}
                    | signed_headers(body),
                )
                assert answer.status_code == 200 and "Kudos recorded" in answer.text, answer.text
            # Public posts to C0001 are paced at one a second; the DMs all go to bob too.
            slack.wait_for("chat.postMessage", 10, timeout=30)
            time.sleep(1.5)  # room for a second worker to (wrongly) send a row again
            posts = slack.calls("chat.postMessage")
            assert sorted(c.args["channel"] for c in posts) == ["C0001"] * 5 + ["U0002"] * 5
            public = [c.args["text"] for c in posts if c.args["channel"] == "C0001"]
            assert len(set(public)) == 5
        finally:
            proc.terminate()
            proc.communicate(timeout=30)


def test_serve_refuses_unauthenticated_teams_off_loopback(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED", "true")
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "only allowed on a loopback host" in capsys.readouterr().err
    monkeypatch.setenv("MICROSOFT_APP_ID", "00000000-0000-0000-0000-0000000b0001")
    monkeypatch.setenv("MICROSOFT_APP_TYPE", "SingleTenant")
    assert main(["serve", "--port", "1"]) == 2
    assert "MICROSOFT_APP_PASSWORD is required" in capsys.readouterr().err
    monkeypatch.setenv("MICROSOFT_APP_PASSWORD", "secret")
    assert main(["serve", "--port", "1"]) == 2
    assert "MICROSOFT_APP_TENANT_ID is required" in capsys.readouterr().err

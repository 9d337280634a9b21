"""`plaudit survey results` shows no more of a round than the dashboard does: by default
the latest closed round, and of an open round only its participation; `survey list` also
names surveys the database has rounds of but plaudit.yaml no longer defines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from bot.cli.main import main
from handlers import surveys
from storage.db import make_engine
from tests.handlers.test_surveys import PULSE, add_members, answer_all
from tests.ops.test_cli import workdir

__all__ = ["workdir"]


def two_rounds(url: str) -> None:
    """Round 1 closed with six answers; round 2 open with six answers (over the threshold)."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as s:
        members = add_members(s, 6)
        for number, at in ((1, now - timedelta(days=10)), (2, now - timedelta(hours=2))):
            opened = surveys.open_round(
                PULSE, session=s, now=at, period=f"p{number}", closes_at=at + timedelta(days=3)
            )
            assert isinstance(opened, surveys.Opened)
            s.commit()
            answer_all(s, members, opened.round_id)
            if number == 1:
                surveys.close_round(opened.round_id, session=s, now=at + timedelta(days=3))
            s.commit()
    engine.dispose()


@pytest.fixture
def rounds(workdir: Path) -> Path:
    main(["db", "upgrade"])
    two_rounds(f"sqlite:///{workdir / 'cli.db'}")
    return workdir


def test_results_default_to_the_latest_closed_round(
    rounds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["survey", "results", "pulse"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Weekly pulse, round 1: 6 of 6 answered")
    assert "eNPS" in out


def test_an_open_round_shows_its_participation_only(
    rounds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["survey", "results", "pulse", "--round", "2"]) == 0
    out = capsys.readouterr().out
    assert "round 2: 6 of 6 answered" in out and "results when the round closes" in out
    assert "eNPS" not in out and "More focus time" not in out and "mean" not in out
    assert main(["survey", "results", "pulse", "--round", "2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["closed"] is False and shown["respondents"] == 6
    assert "questions" not in shown and "groups" not in shown


def test_list_names_a_survey_only_the_database_knows(
    rounds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["survey", "list"]) == 0
    out = capsys.readouterr().out
    assert "No surveys are defined" not in out
    assert "pulse: Weekly pulse" in out and "not in plaudit.yaml, 2 rounds in the database" in out
    assert "4 questions" in out and "round 2 open until" in out

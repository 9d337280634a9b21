"""`plaudit kudos` finds recipients by `@First Last` (as the demo's sandbox suggests), by
email and by an email's local part, and no part of a leading mention stays in the message."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from bot.cli.main import main
from storage.models import Member, Recognition
from tests.ops.test_cli import with_ana_and_dana, workdir

__all__ = ["workdir"]


def last_message(engine: object) -> str:
    with Session(engine) as s:  # type: ignore[arg-type]
        found = s.exec(select(Recognition).order_by(col(Recognition.id).desc())).first()
        assert found is not None
        return str(found.text)


def test_first_and_last_name_is_one_recipient_and_the_surname_is_not_in_the_text(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = with_ana_and_dana("Dana Reyes")
    capsys.readouterr()
    text = "@Dana Reyes thanks for the launch checklist #collaboration"
    assert main(["kudos", "--as", "ana@example.com", text]) == 0
    assert "Recorded kudos" in capsys.readouterr().out
    message = last_message(engine)
    assert message == "thanks for the launch checklist #collaboration"
    assert "Reyes" not in message and "Dana" not in message


def test_several_leading_mentions_by_name_email_and_local_part(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = with_ana_and_dana("Dana Reyes")
    with Session(engine) as s:
        s.add(Member(display_name="Mei Chen", email="mei.chen@example.com"))
        s.add(Member(display_name="Tom Becker", email="tom@example.com"))
        s.commit()
    capsys.readouterr()
    text = "@dana reyes, @tom@example.com and @mei.chen thanks for the site activation email"
    assert main(["kudos", "--as", "ana@example.com", text]) == 0
    out = capsys.readouterr().out
    assert "Recorded kudos" in out
    for name in ("Dana Reyes", "Tom Becker", "Mei Chen"):
        assert name in out
    assert last_message(engine) == "thanks for the site activation email"


def test_an_unknown_full_name_is_refused_not_half_matched(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with_ana_and_dana("Dana Reyes")
    capsys.readouterr()
    assert main(["kudos", "--as", "ana@example.com", "@Dana Smith thanks for the checklist"]) == 1
    assert "can't find" in capsys.readouterr().out

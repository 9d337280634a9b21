"""`recognition.notify_manager`: a recipient's manager hears of the kudos at once, on Slack and
Teams, in one message naming every report recognised; not the giver's own manager role, not a
manager who was recognised too, and nobody while the option is off."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from storage.models import Member
from tests.transcript import POLICY, Chat, Side


def _report_to(engine: Engine, manager: str, *reports: str) -> None:
    with Session(engine) as session:
        boss = session.exec(
            select(Member).where(func.lower(col(Member.email)) == f"{manager}@contoso.example")
        ).one()
        for handle in reports:
            member = session.exec(
                select(Member).where(func.lower(col(Member.email)) == f"{handle}@contoso.example")
            ).one()
            member.manager_id = boss.id
            session.add(member)
        session.commit()


@pytest.fixture(params=[True, False], ids=["notify", "default"])
def managed(request: pytest.FixtureRequest, file_engine: Engine) -> Iterator[tuple[Chat, bool]]:
    policy = replace(POLICY, notify_manager=request.param)
    with Chat(file_engine, policy=policy) as running:
        yield running, request.param


@pytest.fixture(params=["slack", "teams"])
def side(request: pytest.FixtureRequest, managed: tuple[Chat, bool]) -> Side:
    chosen: Side = managed[0][request.param]
    return chosen


def test_a_manager_is_told_once_of_their_reports_kudos(
    side: Side, managed: tuple[Chat, bool], file_engine: Engine
) -> None:
    notify = managed[1]
    side.command("alice", "kudos @bob @carol @dave for the congress booth rota #collaboration")
    _report_to(file_engine, "carol", "bob", "dave")
    before = len(side.dm("carol"))

    side.command("alice", "kudos @bob @dave for the site activation checklist #site-activation")

    notices = side.dm("carol")[before:]
    if not notify:
        assert notices == []
        return
    [notice] = notices
    assert "Bob and Dave, who report to you, received kudos from Alice" in notice
    assert "site activation checklist" in notice

    side.command("carol", "kudos @bob for the speaker briefing pack #collaboration")  # her own
    side.command("erin", "kudos @bob @carol for the MLR resubmission #collaboration")
    later = side.dm("carol")[before + 1 :]
    assert not any("report to you" in said or "reports to you" in said for said in later)
    assert any("gave you kudos" in said and "MLR resubmission" in said for said in later)

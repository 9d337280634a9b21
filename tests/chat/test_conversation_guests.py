"""Guests and people of other organisations, on Slack and Teams: a guest account or someone
from outside the company (Slack Connect, another Teams tenant) can neither give nor receive
kudos, with a clear answer and nothing recorded, unless `recognition.allow_guests` is on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from storage.models import Recognition
from tests.transcript import CAST, POLICY, Chat, Side

FRANK = CAST["frank"]  # a guest account
ERIN = CAST["erin"]  # of another organisation


def _outsiders(chat: Chat) -> None:
    chat.slack_api.add_user(FRANK.slack_id, FRANK.name, email=FRANK.email, guest="multi")
    chat.connector.add_user(
        FRANK.aad_id, FRANK.name, FRANK.email, user_id=FRANK.teams_id, user_role="guest"
    )
    chat.slack_api.add_user(ERIN.slack_id, ERIN.name, email=ERIN.email, home_team="T0PARTNER")
    chat.connector.add_user(
        ERIN.aad_id, ERIN.name, ERIN.email, user_id=ERIN.teams_id, tenant_id="partner-tenant"
    )


@pytest.fixture(params=[False, True], ids=["default", "allowed"])
def guest_chat(request: pytest.FixtureRequest, file_engine: Engine) -> Iterator[tuple[Chat, bool]]:
    with Chat(file_engine, policy=replace(POLICY, allow_guests=request.param)) as running:
        _outsiders(running)
        yield running, request.param


@pytest.fixture(params=["slack", "teams"])
def side(request: pytest.FixtureRequest, guest_chat: tuple[Chat, bool]) -> Side:
    chosen: Side = guest_chat[0][request.param]
    return chosen


def _recorded(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Recognition)).one()


def test_guests_and_outsiders_neither_give_nor_get_kudos(
    side: Side, guest_chat: tuple[Chat, bool], file_engine: Engine
) -> None:
    allowed = guest_chat[1]
    side.command("alice", "kudos @frank for the congress logistics #collaboration")
    side.command("alice", "kudos @erin for the joint webinar run sheet #collaboration")
    side.command("frank", "kudos @alice for the badge printing #collaboration")

    if allowed:
        assert _recorded(file_engine) == 3, side.private("alice") + side.private("frank")
        assert len(side.posted("kudos")) == 3
        return
    to_guest, to_outsider, from_guest = side.private("alice")[-2:] + side.private("frank")[-1:]
    assert "Frank is a guest or from outside the company" in to_guest
    assert "transfer of value" in to_guest
    assert "Erin is a guest or from outside the company" in to_outsider
    assert "guest accounts and people from outside the company can't give them" in from_guest
    assert _recorded(file_engine) == 0
    assert side.posted("kudos") == []
    assert not any("gave you kudos" in said for said in side.dm("frank") + side.dm("erin"))

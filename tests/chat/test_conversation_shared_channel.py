"""A kudos given in a Teams channel shared with another organisation: no card there, the
giver told privately why, the recipients by direct message; with guests allowed, as usual."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine

from tests.transcript import POLICY, Chat


@pytest.fixture(params=[False, True], ids=["default", "guests-allowed"])
def teams_chat(request: pytest.FixtureRequest, file_engine: Engine) -> Iterator[tuple[Chat, bool]]:
    # No recognition channel: the public card would go to the thread it was given in.
    policy = replace(POLICY, teams_recognition_channel=None, allow_guests=request.param)
    with Chat(file_engine, policy=policy) as running:
        yield running, request.param


def test_nothing_is_posted_in_a_shared_channel(teams_chat: tuple[Chat, bool]) -> None:
    chat, allowed = teams_chat
    chat.teams.say("alice", "kudos @bob for the partner webinar run sheet", where="connect")

    assert any("Alice gave you kudos" in said for said in chat.teams.dm("bob"))
    cards = [said for said in chat.teams.posted("connect") if "partner webinar" in said]
    if allowed:
        assert len(cards) == 1
        return
    assert cards == []
    told = chat.teams.private("alice")
    assert any("Kudos recorded for Bob" in said for said in told)
    assert any("shared with another organisation" in said for said in told)

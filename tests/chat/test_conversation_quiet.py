"""A quiet period, as the giver and the reviewer see it on Slack and Teams: a kudos naming an
embargoed product is held with the period's reason, posted only once a reviewer approves,
and a kudos that names neither the product nor results goes out as usual."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from compliance_rules.quiet import QuietPeriod
from tests.transcript import POLICY, Chat, Side

TODAY = datetime.now(UTC).date()
LAUNCH = QuietPeriod(
    "Oncozol EU launch",
    TODAY - timedelta(days=1),
    TODAY + timedelta(days=1),
    products=("Oncozol",),
    reason="The launch is under embargo until the press release.",
)


@pytest.fixture
def quiet_chat(file_engine: Engine) -> Iterator[Chat]:
    with Chat(file_engine, policy=replace(POLICY, quiet_periods=(LAUNCH,))) as running:
        yield running


@pytest.fixture(params=["slack", "teams"])
def quiet_side(request: pytest.FixtureRequest, quiet_chat: Chat) -> Side:
    chosen: Side = quiet_chat[request.param]
    return chosen


def test_a_kudos_naming_an_embargoed_product_waits_for_a_reviewer(quiet_side: Side) -> None:
    side = quiet_side
    side.command("alice", "kudos @bob for the 0ncozol launch training deck #collaboration")

    answer = side.private("alice")[-1]
    assert "held for a compliance reviewer before it can be posted" in answer
    assert "Oncozol EU launch" in answer and "under embargo until the press release" in answer
    assert side.posted("kudos") == [] and side.dm("bob") == []
    [request] = side.posted("review")
    assert "0ncozol launch training deck" in request

    side.click("rae", "Approve")
    assert re.search(r"Review #1:? approved", side.private("rae")[-1])
    [post] = side.posted("kudos")
    assert "Bob" in post and "launch training deck" in post


def test_a_kudos_naming_neither_is_posted_at_once(quiet_side: Side) -> None:
    quiet_side.command("alice", "kudos @bob for the clear booth rota #collaboration")

    assert quiet_side.posted("review") == []
    [post] = quiet_side.posted("kudos")
    assert "clear booth rota" in post

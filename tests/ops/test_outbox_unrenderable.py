"""A row whose template its platform cannot render is dead at once: no retry renders it."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from sqlmodel import Session

from storage import queries
from tests.fakes.slack_api import FakeSlack
from tests.ops.test_outbox import db, dispatcher, rows, run_until, slack  # noqa: F401


def test_a_row_no_renderer_knows_is_dead_at_once(db: Engine, slack: FakeSlack) -> None:  # noqa: F811
    with Session(db) as s:
        queries.enqueue(
            session=s,
            message=queries.Message(
                key="typo",
                platform="slack",
                workspace="T0001",
                channel="C0KUDOS",
                kind="post",
                template="kudos.pubic",  # written past messages.message(), as old rows may be
                data={"text": "hello"},
            ),
        )
        s.commit()
    asyncio.run(run_until(dispatcher(db, slack), db))
    (row,) = rows(db)
    assert row.status == "dead" and row.attempts <= 1
    assert row.last_error == "Slack cannot render 'kudos.pubic'"
    assert slack.calls("chat.postMessage") == []

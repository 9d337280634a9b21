"""What the Agents SDK writes to Plaudit's log: no line per Connector call or token, no
token, and no line of its own for a Connector error (Plaudit logs that where it decides
what to do with it), even at PLAUDIT_LOG_LEVEL=debug."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.observability import logs
from bot.teams.sdk import ConnectorError
from tests.fakes.bot_connector import FakeConnector
from tests.teams.test_agents_transport import activity, secured


@pytest.fixture
def fake() -> Iterator[FakeConnector]:
    with FakeConnector(auth=True) as connector:
        connector.add_people()
        yield connector


def test_at_debug_the_sdk_writes_only_warnings_and_never_a_token(fake: FakeConnector) -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure("debug", json_format=True, stream=buffer)
    try:
        carrier = secured(fake)
        reference = carrier.reference(activity("message_kudos_channel.json", fake))
        asyncio.run(carrier.send(reference, {"text": "one"}))
        fake.fail_next(503, path_contains="/activities")
        with pytest.raises(ConnectorError):
            asyncio.run(carrier.send(reference, {"text": "two"}))
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    from_sdk = [r for r in records if r["logger"].startswith("microsoft_agents")]
    assert [r for r in from_sdk if r["level"] in ("debug", "info", "error")] == []
    assert fake.issued_tokens
    for token in fake.issued_tokens:
        assert token not in buffer.getvalue()

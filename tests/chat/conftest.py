"""The running chat for conversation tests: the real app with both fakes, and each side."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.transcript import Chat, Side


@pytest.fixture
def chat(file_engine: Engine) -> Iterator[Chat]:
    with Chat(file_engine) as running:
        yield running


@pytest.fixture(params=["slack", "teams"])
def side(request: pytest.FixtureRequest, chat: Chat) -> Side:
    """The same scenario on each platform."""
    chosen: Side = chat[request.param]
    return chosen

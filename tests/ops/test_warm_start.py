"""The server opens its ways in only once the compliance rules are compiled, so no text
waits for (or is held for want of time by) a pack still compiling."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.http import lifespan
from compliance_rules.engine import RuleSet
from tests.harness import Server, warm_rules


class SlowRules:
    """The default rules, whose warming takes `seconds` and is recorded."""

    def __init__(self, seconds: float, error: Exception | None = None) -> None:
        self._rules: RuleSet = warm_rules()
        self.seconds, self.error = seconds, error
        self.warmed = threading.Event()

    def warm(self) -> None:
        time.sleep(self.seconds)
        self.warmed.set()
        if self.error is not None:
            raise self.error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rules, name)


def _server(engine: Engine, rules: SlowRules) -> Server:
    server = Server(engine, slack_api_url=None)
    server.runtime.rules = rules  # type: ignore[assignment]
    return server


def test_the_server_serves_only_once_the_rules_are_warm(file_engine: Engine) -> None:
    rules = SlowRules(0.5)
    server = _server(file_engine, rules).start()
    try:
        assert rules.warmed.is_set()
    finally:
        server.stop()


def test_a_pack_that_does_not_load_is_reported_and_the_server_still_starts(
    file_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    from compliance_rules import RuleError

    rules = SlowRules(0.0, RuleError("packs/de.yml: bad regex"))
    with caplog.at_level(logging.CRITICAL, logger="plaudit"):
        server = _server(file_engine, rules).start()
    try:
        assert "its texts are held: packs/de.yml: bad regex" in caplog.text
    finally:
        server.stop()


def test_rules_that_take_too_long_do_not_keep_the_server_from_starting(
    file_engine: Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifespan, "WARM_LIMIT", 0.2)
    rules = SlowRules(3.0)
    with caplog.at_level(logging.WARNING, logger="plaudit"):
        server = _server(file_engine, rules).start()
    try:
        assert not rules.warmed.is_set()
        assert "still compiling after 0 s; serving anyway" in caplog.text
    finally:
        server.stop()

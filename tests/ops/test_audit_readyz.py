"""`/readyz` reports the audit trail's seal as the server runs: the sealer's role, what it
sealed, what waits, and a trail that no longer ends where its checkpoint says. A broken seal
is reported, not a reason to stop serving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from storage.audit import AuditKey
from storage.db import transaction
from tests.fakes.slack_api import FakeSlack
from tests.harness import AUDIT_KEY, TOKEN, Server, eventually

KEY = AuditKey.parse(AUDIT_KEY)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, team_id="T0001")
    fake.add_user("U0001", "alice", email="alice@example.com")
    fake.add_user("U0002", "bob", email="bob@example.com")
    with fake:
        yield fake


def _serve(engine: Engine, slack: FakeSlack, key: AuditKey | None) -> Server:
    server = Server(engine, slack_api_url=slack.base_url)
    server.runtime.audit_key = key
    return server.start()


def _ready(server: Server) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{server.base_url}/readyz", timeout=5)
    return response.status_code, response.json()


def _audit(server: Server) -> dict[str, Any]:
    audit: dict[str, Any] = _ready(server)[1]["audit"]
    return audit


def _give(server: Server, n: int) -> None:
    response = server.command(f"<@U0002|bob> thanks for the launch checklist, round {n}")
    assert response.status_code == 200, response.text


def test_readyz_shows_kudos_sealed_then_a_shortened_trail_refused(
    file_engine: Engine, slack: FakeSlack
) -> None:
    server = _serve(file_engine, slack, KEY)
    try:
        _give(server, 1)
        eventually(lambda: _audit(server)["sealed"] >= 1 and _audit(server)["unsealed"] == 0)
        audit = _audit(server)
        assert audit["sealer"] == "sealing" and audit["problem"] is None
        assert audit["checkpoint_at"] is not None
        sealed = audit["sealed"]

        with transaction(file_engine) as s:  # someone removes the newest sealed entry
            s.connection().execute(text("DELETE FROM audit_entry WHERE seq = :n"), {"n": sealed})
        _give(server, 2)
        eventually(lambda: _audit(server)["sealer"] == "refusing")
        status, body = _ready(server)
        audit = body["audit"]
        assert f"the trail ends at entry {sealed - 1}" in audit["problem"]
        assert audit["unsealed"] >= 1  # kept, waiting for a person, never sealed onto it
        assert status == 200 and body["status"] == "ready"  # kudos go on meanwhile
    finally:
        server.stop()


def test_readyz_says_the_sealer_is_off_without_a_key(file_engine: Engine, slack: FakeSlack) -> None:
    server = _serve(file_engine, slack, None)
    try:
        _give(server, 1)
        eventually(lambda: _audit(server)["unsealed"] >= 1)
        audit = _audit(server)
        assert audit["sealer"] == "off" and audit["sealed"] == 0
        assert audit["checkpoint_at"] is None
    finally:
        server.stop()

"""Drug-safety notifications: delivered to the webhook, retried when it fails, alarmed if dead."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.jobs.outbox import Dispatcher
from bot.runtime import Runtime
from bot.safety.webhook import WebhookSender
from compliance_rules import default_rules
from handlers import kudos
from handlers.clock import SystemClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage.models import Outbox
from storage.vault import Vault


class SafetyInbox:
    """A drug-safety intake endpoint on loopback that can be told to fail."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.failures = 0
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if inbox.failures > 0:
                    inbox.failures -= 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                inbox.received.append(json.loads(body))
                inbox.headers.append(dict(self.headers))
                self.send_response(201)
                self.send_header("Location", f"/cases/{len(inbox.received)}")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/intake"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def inbox() -> Iterator[SafetyInbox]:
    box = SafetyInbox()
    yield box
    box.close()


def report(engine: Engine, policy: KudosPolicy) -> None:
    alice = Person("slack", "T0001", "U0001", "Alice", timezone="UTC", email="alice@example.com")
    bob = Person("slack", "T0001", "U0002", "Bob", timezone="UTC")
    text = "thanks for logging the call where a patient had a rash after the first dose"
    event = KudosRequested("k1", alice, (bob,), text, (), "command", "C0001")
    with Session(engine) as session:
        result = kudos.give(event, session=session, policy=policy, clock=SystemClock())
        session.commit()
    assert isinstance(result, kudos.Stopped) and result.outcome.value == "route_pv"


async def deliver(engine: Engine, *, max_attempts: int = 8, vault: Vault | None = None) -> None:
    runtime = Runtime(engine=engine, policy=KudosPolicy(pv_vault=vault), rules=default_rules())
    async with aiohttp.ClientSession() as http:
        dispatcher = Dispatcher(
            runtime,
            {"webhook": WebhookSender(http)},
            backoff_base=0.05,
            idle_poll=0.05,
            max_attempts=max_attempts,
        )
        dispatcher.start()
        for _ in range(200):
            with Session(engine) as s:
                if all(r.status != "pending" for r in s.exec(select(Outbox))):
                    break
            await asyncio.sleep(0.05)
        await dispatcher.stop()
    runtime.close()


def test_a_failing_webhook_is_retried_until_the_case_arrives(
    file_engine: Engine, inbox: SafetyInbox
) -> None:
    report(file_engine, KudosPolicy(safety_webhook=inbox.url))
    inbox.failures = 2
    asyncio.run(deliver(file_engine))
    (case,) = inbox.received
    assert case["source"] == "kudos" and "rash" in case["text"]
    assert case["reporter"] == "Alice <alice@example.com>" and case["aware_at"]
    assert inbox.headers[0]["Idempotency-Key"].startswith("plaudit-outbox-")
    with Session(file_engine) as s:
        row = s.exec(select(Outbox)).one()
    assert row.status == "delivered" and row.attempts == 2 and row.message_ref == "/cases/1"


def test_a_webhook_that_never_answers_raises_the_alarm(
    file_engine: Engine, inbox: SafetyInbox, caplog: pytest.LogCaptureFixture
) -> None:
    report(file_engine, KudosPolicy(safety_webhook=inbox.url))
    inbox.failures = 100
    with caplog.at_level(logging.CRITICAL, logger="plaudit.outbox"):
        asyncio.run(deliver(file_engine, max_attempts=3))
    assert inbox.received == []
    assert any("pv.case" in r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL)
    with Session(file_engine) as s:
        assert s.exec(select(Outbox)).one().status == "dead"


def test_patient_identifiers_never_reach_the_database_or_the_logs(
    file_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    alice = Person("slack", "T0001", "U0001", "Alice", timezone="UTC")
    bob = Person("slack", "T0001", "U0002", "Bob", timezone="UTC")
    text = "thanks for helping patient Maria Lopez MRN 7654321 DOB 04/12/1961 with enrolment"
    event = KudosRequested("k1", alice, (bob,), text, (), "command", "C0001")
    with caplog.at_level(logging.DEBUG), Session(file_engine) as session:
        result = kudos.give(event, session=session, policy=KudosPolicy(), clock=SystemClock())
        session.commit()
    assert isinstance(result, kudos.Stopped)
    secrets = ("Maria Lopez", "7654321", "04/12/1961")
    with file_engine.connect() as conn:
        from sqlalchemy import inspect
        from sqlalchemy import text as sql

        for table in inspect(file_engine).get_table_names():
            dump = " ".join(str(row) for row in conn.execute(sql(f"SELECT * FROM {table}")))
            assert not any(s in dump for s in secrets), table
    assert not any(s in caplog.text for s in secrets)


def test_a_pv_case_is_emailed_to_drug_safety_and_retried_while_the_server_is_down(
    file_engine: Engine,
) -> None:
    from aiosmtpd.controller import Controller

    from bot.safety.email import EmailSender
    from bot.settings import Settings

    class Inbox:
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], str]] = []

        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            self.messages.append(
                (envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode())
            )
            return "250 OK"

    report(file_engine, KudosPolicy(safety_email="drugsafety@example.com"))
    port = free_port()
    settings = Settings.model_validate(
        {
            "PLAUDIT_SMTP_HOST": "127.0.0.1",
            "PLAUDIT_SMTP_PORT": port,
            "PLAUDIT_SMTP_STARTTLS": False,
            "PLAUDIT_SMTP_FROM": "plaudit@example.com",
        }
    )
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)

    async def scenario() -> None:
        runtime = Runtime(engine=file_engine, policy=KudosPolicy(), rules=default_rules())
        dispatcher = Dispatcher(
            runtime, {"email": EmailSender(settings)}, backoff_base=0.2, idle_poll=0.05
        )
        dispatcher.start()
        await asyncio.sleep(0.5)  # no mail server yet: the first tries fail and wait
        controller.start()
        try:
            for _ in range(100):
                if inbox.messages:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
        finally:
            await dispatcher.stop()
            controller.stop()
            runtime.close()

    asyncio.run(scenario())
    ((sender, to, content),) = inbox.messages
    assert sender == "plaudit@example.com" and to == ["drugsafety@example.com"]
    assert "Subject: PV case #1: possible adverse event" in content and "rash" in content
    with Session(file_engine) as s:
        row = s.exec(select(Outbox)).one()
    assert row.status == "delivered" and row.attempts >= 1


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

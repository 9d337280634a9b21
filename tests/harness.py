"""Runs Plaudit's ASGI app in a real uvicorn server on loopback and signs Slack requests."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session

from bot.http.app import create_app
from bot.runtime import Runtime
from bot.settings import Settings
from compliance_rules import RuleSet, default_rules
from handlers.clock import Clock, SystemClock
from handlers.milestones import Milestone
from handlers.policy import KudosPolicy
from handlers.surveys import Survey
from storage import audit
from storage.audit import AuditKey
from storage.audit_verify import Verdict, verify

SECRET = "test-signing-secret-0123456789"
TOKEN = "xoxb-test-token"
# A fixed PV key (32 bytes, base64url) for servers started by the tests.
PV_KEY = "cGxhdWRpdC10ZXN0LXB2LWtleS0wMTIzNDU2Nzg5YWI="
# A fixed audit key (32 bytes, base64url) for servers started by the tests.
AUDIT_KEY = "cGxhdWRpdC10ZXN0LWF1ZGl0LWtleS0wMTIzNDU2Nzg="
PAYLOADS = Path(__file__).parent / "payloads"


def audit_proof(session: Session) -> Verdict:
    """Seal what the trail holds with the tests' key, then prove it: what `plaudit audit
    verify` would say after the sealer has run."""
    key = AuditKey.parse(AUDIT_KEY)
    now = datetime.now(UTC)
    while audit.seal(session, key, now=now).added:
        pass
    return verify(session, key, now=now)


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    return data


def signed_headers(body: bytes, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for `check()` to hold: delivery happens after the ack, not in it."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def run_uvicorn(app: Any, *, lifespan: str = "on") -> tuple[uvicorn.Server, threading.Thread, str]:
    """Serve `app` with uvicorn on a free loopback port in a thread; returns once it listens."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


@functools.cache
def warm_rules() -> RuleSet:
    """The default rules, warmed once per test run as a server warms them after it starts
    (a test's first text should not race the background warm-up for the CPU)."""
    rules = default_rules()
    rules.warm()
    return rules


class _TeamsSdk:
    """The SDK test servers carry Teams traffic with: the default's (agents) unless a test
    takes the `teams_sdk` fixture, which runs it once per SDK, or PLAUDIT_TEST_TEAMS_SDK
    names one for a whole run."""

    current: str = os.environ.get("PLAUDIT_TEST_TEAMS_SDK", "agents")


teams_sdk = _TeamsSdk()


class Server:
    """uvicorn serving `create_app` in a thread; `stop()` runs the app's shutdown."""

    def __init__(
        self,
        engine: Engine,
        *,
        slack_api_url: str | None,
        policy: KudosPolicy | None = None,
        clock: Clock | None = None,
        surveys: tuple[Survey, ...] = (),
        milestones: tuple[Milestone, ...] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        env_vars: dict[str, Any] = {
            "PLAUDIT_DATABASE_URL": str(engine.url),
            "PLAUDIT_CONFIG": "/nonexistent.yaml",
            "PLAUDIT_TEAMS_SDK": teams_sdk.current,
        }
        if slack_api_url:
            env_vars |= {
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack_api_url,
            }
        self.settings = Settings.model_validate({**env_vars, **(env or {})})
        self.runtime = Runtime(
            engine=engine,
            policy=policy or KudosPolicy(recognition_channel="C0KUDOS", safety_channel="C0SAFETY"),
            rules=warm_rules(),
            clock=clock or SystemClock(),
            surveys=surveys,
            milestones=milestones,
        )
        self.app = create_app(self.settings, self.runtime)
        self.base_url = ""

    def start(self) -> Server:
        self.server, self.thread, self.base_url = run_uvicorn(self.app)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        if self.runtime._commits is not None:
            self.runtime._commits.stop()
            self.runtime._commits = None

    def post(
        self, body: bytes, *, content_type: str, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        all_headers = {"Content-Type": content_type, **(headers or {})}
        return httpx.post(
            f"{self.base_url}/slack/events", content=body, headers=all_headers, timeout=10
        )

    def command(
        self, text: str, *, user_id: str = "U0001", trigger_id: str | None = None, **extra: str
    ) -> httpx.Response:
        fields = payload("slash_command_kudos.json")
        fields.update(text=text, user_id=user_id, **extra)
        fields["trigger_id"] = trigger_id or f"trigger-{time.monotonic_ns()}"
        body = urlencode(fields).encode()
        return self.post(
            body, content_type="application/x-www-form-urlencoded", headers=signed_headers(body)
        )

    def event(self, envelope: dict[str, Any], *, retry: int | None = None) -> httpx.Response:
        body = json.dumps(envelope).encode()
        # Slack signs every delivery afresh; a retry comes later, with its own timestamp.
        headers = signed_headers(body, ts=int(time.time()) + (retry or 0))
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return self.post(body, content_type="application/json", headers=headers)

    def interaction(self, body_payload: dict[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(body_payload)}).encode()
        return self.post(
            body, content_type="application/x-www-form-urlencoded", headers=signed_headers(body)
        )

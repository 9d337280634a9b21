"""The HTTP edge: body size and time limits, request-head deadlines, a connection cap, JSON
depth on every endpoint that parses JSON, and the page at `/`."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from bot.http.app import create_app
from bot.http.health import version
from bot.http.server import server_config
from bot.runtime import Runtime
from bot.settings import Settings
from compliance_rules.engine import RuleSet
from handlers.policy import KudosPolicy
from storage import migrate
from storage.db import make_engine
from tests.harness import SECRET, TOKEN, signed_headers

DEEP = 5_000  # past Python's recursion limit: the parser itself would raise


def settings(**extra: Any) -> Settings:
    return Settings.model_validate(
        {
            "PLAUDIT_DATABASE_URL": "sqlite://",
            "PLAUDIT_CONFIG": "/nonexistent.yaml",
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
            "PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED": "true",
            "BIGCOMMERCE_STORE_HASH": "abc123",
            "BIGCOMMERCE_ACCESS_TOKEN": "bc-token-0123456789",
            "BIGCOMMERCE_API_URL": "http://127.0.0.1:9",
            "BIGCOMMERCE_WEBHOOK_SECRET": "hook-secret-0123456789",
            **extra,
        }
    )


class Edge:
    """The whole app behind `plaudit serve`'s uvicorn configuration, on a loopback port."""

    def __init__(self, **extra: Any) -> None:
        self.engine = make_engine("sqlite://")
        migrate.upgrade(self.engine)
        self.settings = settings(**extra)
        self.runtime = Runtime(
            engine=self.engine,
            policy=KudosPolicy(recognition_channel="C0KUDOS", safety_channel="C0SAFETY"),
            rules=RuleSet([]),  # no text is checked here
        )
        app = create_app(self.settings, self.runtime, dispatch=False)
        config = server_config(app, self.settings, host="127.0.0.1", port=0)
        config.log_level = "warning"
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "did not start"
            time.sleep(0.02)
        self.port: int = self.server.servers[0].sockets[0].getsockname()[1]
        self.sockets: list[socket.socket] = []

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.sockets.append(sock)
        return sock

    def stop(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)
        if self.runtime._commits is not None:
            self.runtime._commits.stop()
            self.runtime._commits = None
        self.engine.dispose()


@pytest.fixture
def edge(request: pytest.FixtureRequest) -> Iterator[Edge]:
    running = Edge(**getattr(request, "param", {}))
    yield running
    running.stop()


def answer(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """What the server sends until it closes the connection (or `timeout` passes)."""
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pass
    return received


def test_a_declared_body_past_the_limit_is_refused_before_it_is_read(edge: Edge) -> None:
    sock = edge.connect()
    sock.sendall(
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 104857600\r\n\r\n"
    )  # 100 MB announced, none of it sent
    started = time.monotonic()
    reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:80]
    assert time.monotonic() - started < 2


def test_a_chunked_body_is_cut_off_at_the_limit(edge: Edge) -> None:
    sock = edge.connect()
    sock.sendall(
        b"POST /webhooks/bigcommerce HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 16_384
    for _ in range(5):  # 80 KB, past the 64 KB limit, and the body never ends
        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:80]


@pytest.mark.parametrize("edge", [dict(PLAUDIT_BODY_TIMEOUT="0.5")], indirect=True)
def test_a_body_that_does_not_arrive_in_time_gets_408(edge: Edge) -> None:
    sock = edge.connect()
    sock.sendall(
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"a":'
    )
    reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:80]


@pytest.mark.parametrize("edge", [dict(PLAUDIT_HEADER_TIMEOUT="0.5")], indirect=True)
def test_a_request_head_that_never_completes_is_closed(edge: Edge) -> None:
    sock = edge.connect()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    started = time.monotonic()
    assert answer(sock, timeout=5) == b""  # closed by the server, not by our timeout
    assert time.monotonic() - started < 3
    # A kept-alive connection gets the same deadline for its next request's head.
    sock = edge.connect()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(5)
    first = b""
    while b"}" not in first:  # the whole first answer (a JSON body)
        first += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1")
    sock.sendall(b"GET /healthz HTTP/1.1\r\n")
    started = time.monotonic()
    assert answer(sock, timeout=5) == b""
    assert time.monotonic() - started < 3


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@pytest.mark.parametrize(
    "edge", [dict(PLAUDIT_MAX_CONNECTIONS="20", PLAUDIT_HEADER_TIMEOUT="30")], indirect=True
)
def test_slow_clients_cannot_hold_more_connections_than_the_limit(edge: Edge) -> None:
    before = _open_descriptors()
    slow = []
    for _ in range(150):
        sock = edge.connect()
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # a head that never ends
        slow.append(sock)
    time.sleep(0.5)
    # Ours: 150 client sockets; the server's side holds at most the limit of them.
    server_side = _open_descriptors() - before - len(slow)
    assert server_side <= 20 + 5, server_side
    closed = 0
    for sock in slow:
        sock.setblocking(False)
        try:
            closed += sock.recv(1) == b""
        except ConnectionResetError:
            closed += 1
        except BlockingIOError:
            pass  # still open: one of those the server holds
    assert closed >= 150 - 20 - 5


def _post(edge: Edge, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{edge.port}{path}",
        content=body,
        headers={"Content-Type": "application/json", **headers},
        timeout=10,
    )


@pytest.mark.parametrize("depth", [65, DEEP])
def test_json_nested_too_deep_answers_400_on_every_json_endpoint(edge: Edge, depth: int) -> None:
    deep = b'{"type": "message", "x": ' + b"[" * depth + b"]" * depth + b"}"
    slack = _post(edge, "/slack/events", deep, signed_headers(deep))
    teams = _post(edge, "/api/messages", deep, {})
    store = _post(
        edge, "/webhooks/bigcommerce", deep, {"X-Plaudit-Webhook-Secret": "hook-secret-0123456789"}
    )
    for response in (slack, teams, store):
        assert response.status_code == 400, (response.request.url, response.text)
        assert "nested" in response.json()["detail"]
    # And a Slack interaction whose payload field is nested too deep.
    form = b"payload=" + b"%5B" * DEEP + b"%5D" * DEEP
    refused = httpx.post(
        f"http://127.0.0.1:{edge.port}/slack/events",
        content=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed_headers(form)},
        timeout=10,
    )
    assert refused.status_code == 400


def test_json_of_ordinary_depth_still_passes_the_guard(edge: Edge) -> None:
    body = json.dumps({"scope": "store/cart/created", "data": {"a": [[[[{"b": 1}]]]]}}).encode()
    response = _post(
        edge, "/webhooks/bigcommerce", body, {"X-Plaudit-Webhook-Secret": "hook-secret-0123456789"}
    )
    assert response.status_code == 200 and response.json()["status"] == "ignored"


# -- what answers at / ---------------------------------------------------------------------


@pytest.mark.parametrize("edge", [dict(PLAUDIT_DASHBOARD_SECRET="d" * 40)], indirect=True)
def test_the_root_page_names_plaudit_and_links_health_metrics_dashboard_docs(edge: Edge) -> None:
    base = f"http://127.0.0.1:{edge.port}"
    page = httpx.get(f"{base}/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Plaudit" in page.text and version() in page.text and version() != ""
    for link in ("/healthz", "/readyz", "/metrics", "/dashboard/", "/readme"):
        assert f'href="{link}"' in page.text, link
    readme = httpx.get(f"{base}/readme", timeout=10)
    assert readme.status_code == 200 and "# Plaudit" in readme.text
    health = httpx.get(f"{base}/healthz", timeout=10).json()
    assert health["status"] == "ok" and health["version"] == version()

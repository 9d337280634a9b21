"""OpenTelemetry traces: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set; then the Agents
SDK's spans for Bot Connector calls reach the collector over OTLP/HTTP. The traced process
runs apart (a tracer provider is set once per process), against the loopback fake Bot
Connector and a loopback collector that decodes what it receives."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.observability import tracing
from bot.settings import Settings
from tests.fakes.bot_connector import BOT_ID, KUDOS_CHANNEL_ID, TENANT_ID, FakeConnector

trace_pb2 = pytest.importorskip(
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    reason="the OTLP exporter (the tracing extra) is not installed",
)


class Collector:
    """An OTLP/HTTP trace receiver: the span names of every export it was sent."""

    def __init__(self) -> None:
        self.spans: list[str] = []
        self.paths: list[str] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.paths.append(self.path)
                request = trace_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        received.spans.extend(span.name for span in scope.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.server.shutdown()
    running.server.server_close()


SCRIPT = """
import asyncio
from bot.observability import tracing
from bot.settings import Settings
from bot.teams.sdk import transport

settings = Settings.model_validate({{
    "PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED": "true",
    "PLAUDIT_TEAMS_SDK": "agents",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "{collector}",
    "OTEL_SERVICE_NAME": "plaudit-test",
}})
provider = tracing.configure(settings)
reference = {reference!r}
sent = asyncio.run(transport(settings).send(reference, {{"text": "traced"}}))
provider.force_flush()
print(sent)
"""


def test_connector_calls_are_traced_when_an_endpoint_is_set(collector: Collector) -> None:
    with FakeConnector() as fake:
        reference = {
            "channelId": "msteams",
            "serviceUrl": fake.service_url,
            "bot": {"id": BOT_ID, "name": "Plaudit"},
            "conversation": {"id": KUDOS_CHANNEL_ID, "tenantId": TENANT_ID, "isGroup": True},
        }
        script = SCRIPT.format(collector=collector.url, reference=reference)
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert fake.activities(KUDOS_CHANNEL_ID)  # the message went out
    assert set(collector.paths) == {"/v1/traces"}
    assert "agents.connector.send_to_conversation" in collector.spans


def test_tracing_is_off_without_an_endpoint() -> None:
    assert tracing.configure(Settings.model_validate({})) is None


def test_without_the_exporter_the_server_says_so_and_runs_untraced(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    settings = Settings.model_validate({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert tracing.configure(settings) is None
    assert "pip install 'plaudit[tracing]'" in caplog.text

"""Operators' view: Prometheus metrics, request ids, and redacted JSON logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TypeVar
from urllib.parse import urlencode

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, update
from sqlmodel import Session
from starlette.types import ASGIApp

from bot.bigcommerce.client import BigCommerceClient, BigCommerceConfig
from bot.http.app import create_app
from bot.observability import logs
from bot.observability.metrics import Metrics
from bot.runtime import Runtime
from bot.settings import Settings
from compliance_rules import default_rules
from handlers.clock import FixedClock
from handlers.policy import KudosPolicy
from storage.db import make_engine
from storage.models import Outbox
from tests.fakes.bigcommerce import FakeBigCommerce
from tests.fakes.slack_api import FakeSlack
from tests.harness import SECRET, TOKEN, Server, eventually, payload, signed_headers

T = TypeVar("T")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
PHI_KUDOS = "<@U0002|bob> thanks for helping patient MRN 1234567, DOB 04/12/1961, with enrolment"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, team_id="T0001")
    fake.add_user("U0001", "alice", email="alice@example.com", tz="Europe/London")
    fake.add_user("U0002", "bob", email="bob@example.com", tz="Europe/Berlin")
    fake.add_user("U0003", "carol", email="carol@example.com", tz="America/New_York")
    with fake:
        yield fake


@pytest.fixture
def server(file_engine: Engine, slack: FakeSlack) -> Iterator[Server]:
    running = Server(file_engine, slack_api_url=slack.base_url).start()
    yield running
    running.stop()


@pytest.fixture
def captured_logs() -> Iterator[Callable[[Settings], io.StringIO]]:
    """Install JSON logging at debug into a buffer; the root logger is restored afterwards."""
    root = logging.getLogger()
    level = root.level
    installed: list[logging.Handler] = []

    def install(settings: Settings) -> io.StringIO:
        buffer = io.StringIO()
        installed.append(
            logs.configure(
                "debug", json_format=True, secrets=logs.secrets_of(settings), stream=buffer
            )
        )
        return buffer

    yield install
    for handler in installed:
        root.removeHandler(handler)
    root.setLevel(level)


def scrape(base_url: str) -> Samples:
    response = httpx.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of every sample of `name` whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def command(server: Server, text: str, *, request_id: str | None = None) -> httpx.Response:
    fields = payload("slash_command_kudos.json")
    fields.update(text=text, user_id="U0001", trigger_id=f"trigger-{time.monotonic_ns()}")
    body = urlencode(fields).encode()
    headers = signed_headers(body)
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    return server.post(body, content_type="application/x-www-form-urlencoded", headers=headers)


def test_metrics_follow_a_kudos_from_ack_to_delivery(server: Server, slack: FakeSlack) -> None:
    before = scrape(server.base_url)
    assert value(before, "plaudit_compliance_outcomes_total", outcome="pass") == 0

    answer = server.command("<@U0002|bob> <@U0003|carol> for the site activation email")
    assert "Kudos recorded" in answer.json()["text"]
    slack.wait_for("chat.postMessage", 3)

    def delivered() -> bool:
        samples = scrape(server.base_url)
        return value(samples, "plaudit_outbox_deliveries_total", result="delivered") >= 2

    eventually(delivered)
    samples = scrape(server.base_url)
    events = {"route": "/slack/events", "method": "POST", "status": "200"}
    assert value(samples, "plaudit_http_requests_total", **events) >= 1
    assert value(samples, "plaudit_http_request_seconds_count", route="/slack/events") >= 1
    assert value(samples, "plaudit_http_request_seconds_bucket", route="/slack/events", le="+Inf")
    assert value(samples, "plaudit_compliance_outcomes_total", outcome="pass") == 1
    assert value(samples, "plaudit_compliance_outcomes_total", outcome="block") == 0
    assert (
        value(samples, "plaudit_outbox_deliveries_total", platform="slack", result="delivered") >= 2
    )
    # The scheduler's first sweep runs at start, in the app's lifespan.
    eventually(lambda: value(scrape(server.base_url), "plaudit_scheduler_runs_total") >= 1)
    samples = scrape(server.base_url)
    assert value(samples, "plaudit_scheduler_runs_total", job="sweep", result="ok") >= 1


def test_the_outbox_backlog_is_read_at_each_scrape(engine: Engine, clock: FixedClock) -> None:
    runtime = Runtime(
        engine=engine,
        policy=KudosPolicy(recognition_channel="C0KUDOS"),
        rules=default_rules(),
        clock=clock,
    )
    with Session(engine) as session:
        for minutes, status in ((1.5, "pending"), (0.5, "pending"), (9, "delivered")):
            session.add(
                Outbox(
                    key=f"k{minutes}",
                    platform="slack",
                    channel="C0KUDOS",
                    kind="post",
                    template="kudos.public",
                    status=status,
                    created_at=clock.now() - timedelta(minutes=minutes),
                )
            )
        session.commit()
    app = create_app(quiet_settings(), runtime, dispatch=False)
    try:
        (first,) = get(app, "/metrics")
        with Session(engine) as session:
            session.execute(update(Outbox).values(status="delivered"))
            session.commit()
        (second,) = get(app, "/metrics")
    finally:
        runtime.close()
    samples = parse(first.text)
    assert value(samples, "plaudit_outbox_pending", platform="slack") == 2
    assert value(samples, "plaudit_outbox_oldest_pending_seconds", platform="slack") == 90
    # Once all is delivered the platform reports 0 rather than vanishing.
    samples = parse(second.text)
    assert ("plaudit_outbox_pending", frozenset({("platform", "slack")})) in samples
    assert value(samples, "plaudit_outbox_pending", platform="slack") == 0
    assert value(samples, "plaudit_outbox_oldest_pending_seconds", platform="slack") == 0


def test_routes_are_labelled_by_template_never_by_raw_path(server: Server) -> None:
    assert httpx.get(f"{server.base_url}/no/such/path/12345").status_code == 404
    assert httpx.get(f"{server.base_url}/slack/events").status_code == 405
    samples = scrape(server.base_url)
    routes = {dict(labels).get("route") for name, labels in samples if "http" in name}
    assert "/no/such/path/12345" not in routes
    assert value(samples, "plaudit_http_requests_total", route="other", status="404") == 1
    assert (
        value(
            samples,
            "plaudit_http_requests_total",
            route="/slack/events",
            method="GET",
            status="405",
        )
        == 1
    )


def test_a_blocked_kudos_counts_its_outcome_and_finding_category(
    server: Server, slack: FakeSlack
) -> None:
    answer = server.command(PHI_KUDOS)
    assert "not posted" in answer.json()["text"]
    samples = scrape(server.base_url)
    assert value(samples, "plaudit_compliance_outcomes_total", outcome="block") == 1
    assert value(samples, "plaudit_compliance_outcomes_total", outcome="pass") == 0
    assert (
        value(samples, "plaudit_compliance_findings_total", category="phi_patient_identifier") >= 1
    )


def test_request_ids_are_echoed_generated_or_replaced(server: Server) -> None:
    given = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-Id": "lb-7f.3_a-1"})
    assert given.headers["x-request-id"] == "lb-7f.3_a-1"

    fresh = httpx.get(f"{server.base_url}/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])

    for bad in ("has spaces", "semi;colon", "x" * 65, "<script>"):
        replaced = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-Id": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"]), bad


def test_logs_are_json_with_the_request_id_and_leak_no_secret_or_phi(
    server: Server, slack: FakeSlack, captured_logs: Callable[[Settings], io.StringIO]
) -> None:
    buffer = captured_logs(server.settings)
    blocked = command(server, PHI_KUDOS, request_id="req-phi-1")
    assert "not posted" in blocked.json()["text"]
    # Posted as written, so the Slack client's debug log of the post carries the token.
    passed = command(
        server, f"<@U0002|bob> for revoking the leaked {TOKEN} so fast", request_id="req-ok-2"
    )
    assert "Kudos recorded" in passed.json()["text"]
    slack.wait_for("chat.postMessage", 2)
    eventually(lambda: value(scrape(server.base_url), "plaudit_outbox_deliveries_total") >= 2)

    output = buffer.getvalue()
    records = [json.loads(line) for line in output.splitlines()]
    assert records
    for record in records:
        assert {"ts", "level", "logger", "message"} <= set(record)
    # Each request's lines carry its id; the SDKs' debug lines (request bodies) are not there.
    assert "req-phi-1" in {r.get("request_id") for r in records}
    assert any("delivered on slack" in r["message"] for r in records)
    assert not any(r["logger"].startswith("slack_sdk") and r["level"] == "debug" for r in records)
    for secret in (TOKEN, SECRET, "1234567", "04/12/1961"):
        assert secret not in output, secret


def test_the_filter_redacts_messages_arguments_and_tracebacks() -> None:
    buffer = io.StringIO()
    handler = logs.configure(
        "info", json_format=True, secrets=["sig-secret-42", "smtp-pass-99"], stream=buffer
    )
    logger = logging.getLogger("plaudit.test")
    token = logs.request_id.set("req-42")
    try:
        logger.info("token %s and %s", TOKEN, "xapp-1-A0001-abc")
        logger.warning("Authorization: Bearer eyJhbGciOi.abc-def and sig-secret-42")
        try:
            raise ValueError("smtp login smtp-pass-99 failed for patient MRN 7654321")
        except ValueError:
            logger.exception("born on 1961-04-12, call (555) 123-4567")
    finally:
        logs.request_id.reset(token)
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [line["level"] for line in lines] == ["info", "warning", "error"]
    assert all(
        line["request_id"] == "req-42" and line["logger"] == "plaudit.test" for line in lines
    )
    assert lines[0]["message"] == "token [redacted] and [redacted]"
    assert lines[1]["message"] == "Authorization: Bearer [redacted] and [redacted]"
    assert lines[2]["message"] == "[redacted], call [redacted]"
    assert "ValueError" in lines[2]["exc"] and "7654321" not in lines[2]["exc"]
    assert "smtp-pass-99" not in lines[2]["exc"]


def test_text_logs_carry_the_request_id() -> None:
    buffer = io.StringIO()
    handler = logs.configure("info", json_format=False, stream=buffer)
    token = logs.request_id.set("req-7")
    try:
        logging.getLogger("plaudit.test").info("hello %s", TOKEN)
    finally:
        logs.request_id.reset(token)
        logging.getLogger().removeHandler(handler)
    line = buffer.getvalue().strip()
    assert line.endswith("INFO plaudit.test hello [redacted] request_id=req-7")


def get(app: ASGIApp, *paths: str) -> list[httpx.Response]:
    """GET each path from the app in process (no server, no lifespan)."""

    async def fetch() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plaudit") as client:
            return [await client.get(path) for path in paths]

    return asyncio.run(fetch())


def quiet_settings() -> Settings:
    return Settings.model_validate(
        {"PLAUDIT_DATABASE_URL": "sqlite://", "PLAUDIT_CONFIG": "/nonexistent.yaml"}
    )


class _Unreachable(Runtime):
    """A runtime whose database is down."""

    async def run(self, work: Callable[[Session], T]) -> T:
        raise ConnectionRefusedError("database unreachable")


def test_metrics_answer_without_the_database() -> None:
    engine = make_engine("sqlite://")
    runtime = _Unreachable(
        engine=engine, policy=KudosPolicy(recognition_channel="C0KUDOS"), rules=default_rules()
    )
    try:
        app = create_app(quiet_settings(), runtime, dispatch=False)
        _, response = get(app, "/no-such-page", "/metrics")
    finally:
        engine.dispose()
    assert response.status_code == 200
    samples = parse(response.text)
    assert value(samples, "plaudit_http_requests_total", route="other", status="404") == 1
    assert not any(name.startswith("plaudit_outbox_") for name, _ in samples)


def test_two_apps_in_one_process_count_apart(engine: Engine) -> None:
    runtime = Runtime(
        engine=engine, policy=KudosPolicy(recognition_channel="C0KUDOS"), rules=default_rules()
    )
    first = create_app(quiet_settings(), runtime, dispatch=False)
    second = create_app(quiet_settings(), runtime, dispatch=False)
    try:
        *_, one = get(first, "/no-such-page", "/no-such-page", "/metrics")
        _, two = get(second, "/no-such-page", "/metrics")
    finally:
        runtime.close()
    assert value(parse(one.text), "plaudit_http_requests_total", route="other") == 2
    assert value(parse(two.text), "plaudit_http_requests_total", route="other") == 1


def test_the_bigcommerce_quota_share_is_reported(file_engine: Engine) -> None:
    runtime = Runtime(
        engine=file_engine,
        policy=KudosPolicy(recognition_channel="C0KUDOS"),
        rules=default_rules(),
    )
    metrics = Metrics(runtime)
    assert metrics.registry.get_sample_value("plaudit_bigcommerce_quota_used_ratio") is None
    with FakeBigCommerce(quota=100) as store:
        store.consume(49)
        config = BigCommerceConfig(
            store_hash=store.store_hash, access_token=store.access_token, api_url=store.url
        )
        with BigCommerceClient(config) as client, metrics.current():
            list(client.channels())
    assert metrics.registry.get_sample_value("plaudit_bigcommerce_quota_used_ratio") == 0.5


AE_KUDOS = (
    "<@U0002|bob> thanks for taking the call: Edith Crawley, who sings in the Harrow Lane "
    "choir, was hospitalised with a severe rash two days after her first dose of Cardivex"
)


def test_debug_logs_never_carry_a_reported_patient_s_name(
    server: Server, slack: FakeSlack, captured_logs: Callable[[Settings], io.StringIO]
) -> None:
    """A name no rule can recognise stays out of the logs at debug: the text is never logged,
    and the SDKs' debug lines (which print request bodies) are held at info."""
    buffer = captured_logs(server.settings)
    answer = command(server, AE_KUDOS, request_id="req-ae-1")
    assert "drug safety" in answer.json()["text"]
    (alert,) = slack.wait_for("chat.postMessage", 1)
    assert "Edith Crawley" in json.dumps(alert.args)  # the safety team reads the whole report
    assert any(
        r.get("request_id") == "req-ae-1" for r in map(json.loads, buffer.getvalue().splitlines())
    )
    for name in ("Crawley", "Harrow Lane"):
        assert name not in buffer.getvalue(), name

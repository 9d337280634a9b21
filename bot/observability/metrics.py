"""Prometheus metrics for operators (`GET /metrics`) and the ASGI middleware that times each
request, labels it by its route template and gives it a request id.

Each app has its own registry. The app's middleware makes that registry the current one for
every request and for the app's lifespan, so the outbox dispatcher, the scheduler and the
adapters count through the module functions below without holding a reference; outside a
running app (the CLI, unit tests of a single part) those functions do nothing.

With `PROMETHEUS_MULTIPROC_DIR` set (`prepare_multiprocess` sets it for `serve --workers N`),
each worker process writes its numbers to files there and every scrape adds up all workers'.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from functools import partial
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.observability import logs
from bot.runtime import Runtime
from compliance_rules.model import Outcome
from handlers.kudos import KudosResult, Recorded, Stopped
from storage.outbox import waiting_by_platform

log = logging.getLogger("plaudit.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Slack wants an ack within 3 s; the buckets are finest below that.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
DB_TIMEOUT = 3.0  # a scrape answers without the outbox gauges rather than hang on the database
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_current: ContextVar[Metrics | None] = ContextVar("plaudit_metrics", default=None)


class Metrics:
    """One app's metrics, in a registry of its own."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.shared = shared_directory()
        self.registry = CollectorRegistry()
        registry = self.registry
        if self.shared is None:  # one process's memory and CPU would stand for all workers'
            ProcessCollector(registry=registry)
        self.http_requests = Counter(
            "plaudit_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.http_seconds = Histogram(
            "plaudit_http_request_seconds",
            "Time to answer an HTTP request (for /slack/events and /api/messages: the ack).",
            ["route"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.outbox_deliveries = Counter(
            "plaudit_outbox_deliveries",
            "Outbox delivery attempts by platform and result "
            "(delivered, retry, rate_limited, dead).",
            ["platform", "result"],
            registry=registry,
        )
        self.compliance_outcomes = Counter(
            "plaudit_compliance_outcomes",
            "Kudos checked by the compliance gate, by outcome.",
            ["outcome"],
            registry=registry,
        )
        for outcome in Outcome:
            self.compliance_outcomes.labels(outcome.value)
        self.compliance_findings = Counter(
            "plaudit_compliance_findings",
            "Compliance findings on kudos, by rule category.",
            ["category"],
            registry=registry,
        )
        self.scheduler_runs = Counter(
            "plaudit_scheduler_runs",
            "Scheduled job runs by job and result (ok, error, skipped).",
            ["job", "result"],
            registry=registry,
        )
        self.workers = Gauge(
            "plaudit_worker_processes",
            "Worker processes serving (serve --workers N), those alive at the scrape.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.workers.set(1)
        self._quota: Gauge | None = None
        self._quota_guard = threading.Lock()
        self.scraped = _ScrapeTime()
        registry.register(self.scraped)
        self.exposed = self._exposed()  # what a scrape reads

    def _exposed(self) -> CollectorRegistry:
        """This registry; with a shared directory, every worker's numbers read from it (this
        process's among them) and the backlog gauges, and this process marked dead at exit."""
        if self.shared is None:
            return self.registry
        exposed = CollectorRegistry()
        MultiProcessCollector(exposed, path=str(self.shared))  # type: ignore[no-untyped-call]
        exposed.register(self.scraped)
        atexit.register(mark_process_dead, os.getpid(), str(self.shared))
        return exposed

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        """Count into these metrics within the block (and the tasks and threads it starts)."""
        token = _current.set(self)
        try:
            yield
        finally:
            _current.reset(token)

    async def endpoint(self, _: Request) -> Response:
        """`GET /metrics`: Prometheus text; without the outbox gauges if the database fails."""
        backlog: dict[str, tuple[int, float]] | None
        try:
            now = self.runtime.clock.now()
            backlog = await asyncio.wait_for(
                self.runtime.run(partial(waiting_by_platform, now=now)), DB_TIMEOUT
            )
        except Exception as exc:  # the scrape still answers; the gauges are left out
            log.warning("metrics: could not read the outbox backlog: %s", type(exc).__name__)
            backlog = None
        self.scraped.set_backlog(backlog)
        return Response(self.exposition(), media_type=CONTENT_TYPE)

    def exposition(self) -> bytes:
        """The Prometheus text of every worker (with a shared directory) or of this one."""
        if self.shared is not None:
            _sweep(self.shared)
        return generate_latest(self.exposed)

    def set_quota_used(self, ratio: float) -> None:
        """Made at the first report, so the gauge is absent until there is one; with several
        workers, the most recent report of any of them counts."""
        with self._quota_guard:
            if self._quota is None:
                self._quota = Gauge(
                    "plaudit_bigcommerce_quota_used_ratio",
                    "Share of the BigCommerce store's request quota used in the current "
                    "window (all apps together), as of Plaudit's last request.",
                    multiprocess_mode="mostrecent",
                    registry=self.registry,
                )
        self._quota.set(min(1.0, max(0.0, ratio)))

    def count_kudos(self, result: KudosResult) -> None:
        if isinstance(result, Recorded):
            outcome, findings = ("warn" if result.warnings else "pass"), result.warnings
        elif isinstance(result, Stopped):
            outcome, findings = result.outcome.value, result.findings
        else:  # refused or a duplicate: the gate did not run
            return
        self.compliance_outcomes.labels(outcome).inc()
        for finding in findings:
            self.compliance_findings.labels(finding.category).inc()


class _ScrapeTime(Collector):
    """Gauges read when scraped: the outbox backlog, from the database."""

    def __init__(self) -> None:
        self._backlog: dict[str, tuple[int, float]] | None = None
        self._platforms: set[str] = set()

    def set_backlog(self, backlog: dict[str, tuple[int, float]] | None) -> None:
        if backlog is not None:
            # A platform that had pending rows once reports 0 after, rather than vanishing.
            self._platforms |= set(backlog)
            backlog = {p: backlog.get(p, (0, 0.0)) for p in sorted(self._platforms)}
        self._backlog = backlog

    def collect(self) -> Iterator[Metric]:
        backlog = self._backlog
        if backlog is not None:
            pending = GaugeMetricFamily(
                "plaudit_outbox_pending", "Outbox rows still to deliver.", labels=["platform"]
            )
            oldest = GaugeMetricFamily(
                "plaudit_outbox_oldest_pending_seconds",
                "Age of the oldest outbox row still to deliver.",
                labels=["platform"],
            )
            for platform, (count, age) in backlog.items():
                pending.add_metric([platform], count)
                oldest.add_metric([platform], age)
            yield pending
            yield oldest


class ObservabilityMiddleware:
    """Pure ASGI: times and counts each request under its route template (`other` for paths
    no route knows), sets the request id for the logs and echoes it in `X-Request-Id`, and
    makes this app's metrics the current ones for requests and the lifespan."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self.metrics.current():
            if scope["type"] == "http":
                await self._http(scope, receive, send)
            else:
                await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _route(scope)
        method = scope["method"] if scope["method"] in _METHODS else "other"
        rid = request_id(_header(scope, b"x-request-id"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                MutableHeaders(scope=message)["X-Request-Id"] = rid
            await send(message)

        token = logs.request_id.set(rid)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            # The route's template, never the path or query (a sign-in link's token).
            log.debug("%s %s answered %d in %.1f ms", method, route, status, elapsed * 1000)
            logs.request_id.reset(token)
            self.metrics.http_requests.labels(route, method, str(status)).inc()
            self.metrics.http_seconds.labels(route).observe(elapsed)


def request_id(given: str | None) -> str:
    """The caller's request id if it is a sane one (≤ 64 of `[A-Za-z0-9._-]`), else a new one."""
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _route(scope: Scope) -> str:
    """The path template of the route that will answer, never the raw path."""
    routes: Iterable[object] = getattr(scope.get("app"), "routes", ())
    for route in routes:
        matches = getattr(route, "matches", None)
        path = getattr(route, "path", None)
        if matches is None or not isinstance(path, str):
            continue
        match, _ = matches(scope)
        if match is not Match.NONE:
            return path
    return "other"


# -- counting from anywhere in a running app ------------------------------------------------


def count_kudos(result: KudosResult) -> None:
    """Count a kudos the gate checked (its outcome and each finding's category)."""
    metrics = _current.get()
    if metrics is not None:
        metrics.count_kudos(result)


def count_delivery(platform: str, result: str) -> None:
    """Count one outbox delivery attempt: delivered, retry, rate_limited or dead."""
    metrics = _current.get()
    if metrics is not None:
        metrics.outbox_deliveries.labels(platform, result).inc()


def count_run(job: str, result: str) -> None:
    """Count one run of a scheduled job: ok, error or skipped."""
    metrics = _current.get()
    if metrics is not None:
        metrics.scheduler_runs.labels(job, result).inc()


def set_bigcommerce_quota_used(ratio: float) -> None:
    """The share of the store's request quota spent in its current window."""
    metrics = _current.get()
    if metrics is not None:
        metrics.set_quota_used(ratio)


# -- several worker processes ---------------------------------------------------------------


def shared_directory() -> Path | None:
    """Where this process's metrics are shared with the other workers', if they are:
    `PROMETHEUS_MULTIPROC_DIR`, as prometheus_client read it when it was loaded."""
    value = os.environ.get(MULTIPROC_ENV)
    if not value:
        return None
    if prometheus_values.ValueClass is prometheus_values.MutexValue:
        log.warning(
            "%s was set after the metrics were loaded; they stay per process", MULTIPROC_ENV
        )
        return None
    return Path(value)


def prepare_multiprocess(workers: int) -> Path | None:
    """Before `serve` starts its workers: the directory they will share their metrics
    through (`PROMETHEUS_MULTIPROC_DIR`, or with several workers and none named, a new private
    one, named in the environment they inherit), emptied of an earlier run's files. None: one
    process, metrics in its memory."""
    named = os.environ.get(MULTIPROC_ENV)
    if named:
        directory = Path(named)
        directory.mkdir(parents=True, exist_ok=True)
    elif workers > 1:
        directory = Path(tempfile.mkdtemp(prefix="plaudit-metrics-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        os.environ[MULTIPROC_ENV] = str(directory)
    else:
        return None
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    return directory


def _sweep(directory: Path) -> None:
    """Mark dead the workers that went without saying so (killed): their live gauges go."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process by now: not our worker
        return False
    return True

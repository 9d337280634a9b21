"""The HTTP server around the app: uvicorn with bounded connections, a deadline for each
request's head, Plaudit's log format, and a clean exit on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors import Multiprocess

from bot.process_settings import ProcessSettings

log = logging.getLogger("plaudit.web")

MAX_HEAD = 16 * 1024  # request line and headers; larger heads are refused with 400
STARTUP_FAILURE = 3  # what uvicorn exits with when the app does not start
DEFAULT_HEAD_TIMEOUT = 10.0
WORKER_HEALTHCHECK = 60  # seconds a worker process may take to answer the supervisor


class EdgeProtocol(H11Protocol):
    """uvicorn's h11 protocol, with two limits it lacks: a connection past the concurrency
    limit is closed at once (uvicorn would keep it open until its head arrived, which a slow
    client never sends), and a request's head must arrive within `header_timeout` seconds
    (set on the uvicorn config by `server_config`)."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        cap = self.config.limit_concurrency
        if cap is not None and len(self.connections) > cap:
            transport.close()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        timeout = float(getattr(self.config, "header_timeout", DEFAULT_HEAD_TIMEOUT))
        self._head_timer = self.loop.call_later(timeout, self._head_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.debug("closed a connection whose request head did not arrive in time")
            self.transport.close()


def server_config(
    app: Any, settings: ProcessSettings, *, host: str, port: int, workers: int = 1
) -> uvicorn.Config:
    """uvicorn's configuration for `app` (an import string with `workers` > 1)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        factory=workers > 1,
        workers=workers,
        http=EdgeProtocol,
        # None: uvicorn keeps its hands off logging; its loggers write through Plaudit's.
        log_config=None,
        log_level=settings.log_level.lower(),
        access_log=False,
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=max(1, round(settings.keep_alive)),
        h11_max_incomplete_event_size=MAX_HEAD,
        # A worker compiling the compliance rules at start can hold the GIL for seconds; the
        # supervisor's 5-second health ping would kill it and start another, forever.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK,
    )
    config.header_timeout = settings.header_timeout  # type: ignore[attr-defined]
    return config


def serve(config: uvicorn.Config) -> int:
    """Run the server until it is stopped; 0 after a stop by SIGTERM or SIGINT.

    uvicorn shuts down gracefully on those signals and then raises the signal again with the
    handler it found in place; with Python's default handler SIGTERM would kill the process
    (exit 143, and the lines not yet written lost). Ours notes it and lets `serve` return."""
    received: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda number, _frame: received.append(number))
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
            return 0
        server = uvicorn.Server(config)
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            log.info("stopped by %s", signal.Signals(received[0]).name)

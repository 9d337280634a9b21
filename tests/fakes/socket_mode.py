"""A fake Slack Socket Mode server on loopback: hello on connect, envelopes in, acks recorded."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class Connection:
    """One websocket a client opened, with the ticket from its URL."""

    ticket: str
    socket: web.WebSocketResponse
    opened_at: float


@dataclass
class FakeSocketMode:
    """Speaks Slack's Socket Mode protocol over `ws://127.0.0.1:PORT/link/`.

    Point `FakeSlack.socket_url` at `url` so apps.connections.open hands it out. Envelopes go
    to the newest open connection, as Slack sends each envelope to one of an app's sockets.
    """

    app_id: str = "A0001"
    url: str = ""
    _connections: list[Connection] = field(default_factory=list)
    _acks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _other: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FakeSocketMode:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, daemon=True)
        self._thread.start()
        port = self._call(self._serve())
        self.url = f"ws://127.0.0.1:{port}/link/"
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------
    def send(self, envelope: dict[str, Any]) -> None:
        """Send a raw message to the newest open connection."""
        with self._lock:
            open_ = [c for c in self._connections if not c.socket.closed]
        if not open_:
            raise AssertionError("no Socket Mode client is connected")
        self._call(open_[-1].socket.send_str(json.dumps(envelope)))

    def envelope(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
    ) -> str:
        """Deliver `body` as an `events_api`, `slash_commands` or `interactive` envelope."""
        envelope_id = envelope_id or f"env-{next(self._ids)}-{time.monotonic_ns()}"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": body,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope |= {
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        self.send(envelope)
        return envelope_id

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does every few hours."""
        self.send({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}})

    # -- inspection --------------------------------------------------------------------
    def wait_for_ack(
        self, envelope_id: str, timeout: float = 5.0, count: int = 1
    ) -> dict[str, Any]:
        """Block until `envelope_id` was acknowledged `count` times; the last ack."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._acks.get(envelope_id, [])) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for {envelope_id}; acks: {list(self._acks)}")
                self._lock.wait(left)
            return self._acks[envelope_id][-1]

    def acks(self, envelope_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._acks.get(envelope_id, []))

    def wait_for_connections(self, count: int = 1, timeout: float = 10.0) -> list[Connection]:
        """Block until `count` connections were opened in all (open or since closed)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._connections) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self._connections)} of {count} connections")
                self._lock.wait(left)
            return list(self._connections)

    def open_connections(self) -> int:
        with self._lock:
            return sum(1 for c in self._connections if not c.socket.closed)

    # -- the wire ----------------------------------------------------------------------
    def _call(self, coro: Any, timeout: float = 10.0) -> Any:
        assert self._loop is not None, "start() the fake first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _serve(self) -> int:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port: int = self._runner.addresses[0][1]
        return port

    async def _shutdown(self) -> None:
        with self._lock:
            sockets = [c.socket for c in self._connections]
        for socket in sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ticket = request.query.get("ticket", "")
        if not ticket:
            raise web.HTTPUnauthorized(text="no ticket")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        with self._lock:
            live = 1 + sum(1 for c in self._connections if not c.socket.closed)
        await socket.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": live,
                    "debug_info": {
                        "host": "applink-fake",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        # Counted once the hello is out, so a test that waited for it can send at once.
        with self._lock:
            self._connections.append(Connection(ticket, socket, time.monotonic()))
            self._lock.notify_all()
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            with self._lock:
                if isinstance(data, dict) and "envelope_id" in data:
                    self._acks.setdefault(str(data["envelope_id"]), []).append(data)
                else:
                    self._other.append(data)
                self._lock.notify_all()
        return socket

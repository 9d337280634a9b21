"""Slack's HTTP routes: `/slack/events` behind a signature check and a replay guard, and the
OAuth install pages (`/slack/install`, `/slack/oauth_redirect`) served by Bolt."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.http.guards import MAX_BODY, malformed, payload_too_large
from bot.settings import Settings
from bot.slack import socket as slack_socket


@dataclass
class ReplayGuard:
    """Remembers signatures of handled requests for the 5-minute window Slack signs for."""

    window: float = 300.0
    size: int = 100_000
    _seen: OrderedDict[str, float] = field(default_factory=OrderedDict)

    def seen(self, signature: str) -> bool:
        now = time.monotonic()
        while self._seen and next(iter(self._seen.values())) < now:
            self._seen.popitem(last=False)
        return signature in self._seen

    def remember(self, signature: str) -> None:
        self._seen[signature] = time.monotonic() + self.window
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)


async def slack_events(request: Request) -> Response:
    """`POST /slack/events`: checked here (size, signature, replay, shape), answered by Bolt."""
    state = request.app.state
    settings: Settings = state.settings
    if settings.slack_socket_mode:
        return JSONResponse(slack_socket.HTTP_OFF, status_code=404)
    handler: AsyncSlackRequestHandler | None = state.slack_handler
    if handler is None:
        return JSONResponse(
            {
                "error": "slack_disabled",
                "detail": "set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET",
            },
            status_code=404,
        )
    body = await request.body()
    if len(body) > MAX_BODY:
        return payload_too_large()
    signature = request.headers.get("x-slack-signature", "")
    stamp = request.headers.get("x-slack-request-timestamp", "")
    secret: bytes = state.slack_signing_secret
    guard: ReplayGuard = state.slack_replay_guard
    if not _signed(secret, body, stamp, signature) or guard.seen(signature):
        return JSONResponse({"error": "invalid_signature"}, status_code=401)
    problem = malformed(body, request.headers.get("content-type", ""))
    if problem:
        return JSONResponse({"error": "bad_request", "detail": problem}, status_code=400)
    response: Response = await handler.handle(request)
    if response.status_code < 400:
        guard.remember(signature)
    return response


async def slack_oauth(request: Request) -> Response:
    """`/slack/install` and `/slack/oauth_redirect`, served by Bolt's OAuth flow."""
    settings: Settings = request.app.state.settings
    handler: AsyncSlackRequestHandler | None = request.app.state.slack_handler
    if handler is None or not settings.slack_multi_workspace:
        return JSONResponse(
            {
                "error": "slack_install_disabled",
                "detail": "set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET "
                "and PLAUDIT_PUBLIC_URL (instead of SLACK_BOT_TOKEN)",
            },
            status_code=404,
        )
    response: Response = await handler.handle(request)
    return response


def _signed(secret: bytes, body: bytes, stamp: str, signature: str, window: int = 300) -> bool:
    """Slack's v0 signature over the raw bytes (any bytes, so a non-UTF-8 body is a 400, not
    an error), with a timestamp inside the replay window."""
    try:
        age = abs(time.time() - int(stamp))
    except ValueError:
        return False
    if age > window or not signature.startswith("v0="):
        return False
    base = b"v0:" + stamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogatepass"))

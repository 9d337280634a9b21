"""What a request's body must pass before Bolt or a handler sees it: its size, the time it
takes to arrive, and its shape (JSON no deeper than `MAX_DEPTH`)."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import parse_qs

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 64 * 1024
MAX_DEPTH = 64  # Slack, Teams and BigCommerce nest a dozen levels; Python's parser ~1,000
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


class BodyGuard:
    """ASGI middleware: every request's body is read here, before any route sees it, up to
    `limit` bytes and within `timeout` seconds, then handed on whole.

    A declared Content-Length past the limit is refused (413) before a byte is read; a
    chunked body is counted as it arrives and refused as soon as it passes the limit, so no
    more than `limit` bytes of it are ever held. A body that does not arrive in time is
    refused with 408. Either way the connection is closed."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_BODY, timeout: float = 15.0) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(400, "bad_content_length", scope, receive, send)
                return
            if int(declared) > self.limit:
                await _refuse(413, "payload_too_large", scope, receive, send)
                return
        elif b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body
            return
        try:
            async with asyncio.timeout(self.timeout):
                body = await self._read(receive)
        except TimeoutError:
            await _refuse(408, "request_timeout", scope, receive, send)
            return
        except _Gone:
            return
        if body is None:
            await _refuse(413, "payload_too_large", scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None past the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class _Gone(Exception):
    """The client went away before its body arrived."""


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read already, then whatever the server sends next
    (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(status: int, error: str, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({"error": error}, status_code=status, headers={"Connection": "close"})
    await response(scope, receive, send)


def json_problem(body: bytes | str) -> str | None:
    """Why `body` is not a JSON object Plaudit will parse (not UTF-8, not JSON, nested past
    `MAX_DEPTH`, not an object), or None. Checked before any parser recurses into it."""
    try:
        data = body.encode("utf-8") if isinstance(body, str) else body
        data.decode("utf-8")
    except UnicodeError:
        return "the body is not UTF-8"
    if too_deep(data):
        return f"the JSON is nested more than {MAX_DEPTH} levels deep"
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return "the body is not valid JSON"
    return None if isinstance(value, dict) else "expected a JSON object"


def too_deep(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether brackets outside JSON strings nest past `limit` (without parsing)."""
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def payload_too_large() -> JSONResponse:
    """The answer for a body past `MAX_BODY`."""
    return JSONResponse({"error": "payload_too_large"}, status_code=413)


def malformed(body: bytes, content_type: str) -> str | None:
    """Why Bolt could not parse this body, checked before Bolt sees it (it would answer 500)."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if "application/json" in content_type:
        return json_problem(body)
    if "application/x-www-form-urlencoded" not in content_type:
        return "unsupported content type"
    try:
        form = parse_qs(decoded, strict_parsing=bool(decoded), errors="strict")
    except (ValueError, UnicodeDecodeError):
        return "the form body is malformed"
    if "payload" in form:
        problem = json_problem(form["payload"][0])
        if problem:
            return f"the payload field: {problem}"
    elif "command" not in form and "ssl_check" not in form:
        return "neither a command nor an interaction payload"
    return None

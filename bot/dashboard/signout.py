"""In front of the dashboard: a session cookie whose session was signed out is taken off the
request, so a copy of it replayed after sign-out opens nothing (on any replica)."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.dashboard.auth import SESSION_COOKIE, Sessions, signed_out_key
from bot.runtime import Runtime
from storage.queries import seen_inbound


class SignedOutSessions:
    """ASGI middleware: looks up the session of the request's cookie among the signed-out
    ones and, when it is there, removes the cookie (the dashboard then sees a stranger)."""

    def __init__(self, app: ASGIApp, sessions: Sessions, runtime: Runtime) -> None:
        self.app = app
        self.sessions = sessions
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            cookies = HTTPConnection(scope).cookies
            found = self.sessions.parse(cookies.get(SESSION_COOKIE))
            if found is not None:
                key = signed_out_key(found[0])
                if await self.runtime.run(lambda s: seen_inbound(session=s, key=key)):
                    scope = dict(scope, headers=_without_session(scope, cookies))
        await self.app(scope, receive, send)


def _without_session(scope: Scope, cookies: dict[str, str]) -> list[tuple[bytes, bytes]]:
    kept = "; ".join(f"{name}={value}" for name, value in cookies.items() if name != SESSION_COOKIE)
    headers = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
    if kept:
        headers.append((b"cookie", kept.encode("latin-1")))
    return headers

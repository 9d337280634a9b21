"""Signed session cookies, CSRF tokens bound to the session, and the roles of a viewer."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from bot.dashboard.config import DashboardConfig

SESSION_COOKIE = "plaudit_dashboard"
OIDC_COOKIE = "plaudit_dashboard_oidc"
OIDC_SECONDS = 600  # a sign-in must come back from the provider within ten minutes
SIGNED_OUT = "dashboard.signed_out"  # the kind of the record a sign-out leaves

ADMIN, REVIEWER, SAFETY, MANAGER, MEMBER = "admin", "reviewer", "safety", "manager", "member"
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


@dataclass(frozen=True)
class Account:
    """A member as the dashboard needs them."""

    id: int
    email: str
    name: str
    roles: tuple[str, ...]  # from the roster
    manages: bool  # someone has them as manager
    workspace: str | None = None  # their Slack workspace (team id), if they are in Slack
    team: str | None = None  # their team on the roster


@dataclass(frozen=True)
class Viewer:
    """The signed-in person of one request."""

    account: Account
    roles: frozenset[str]
    sid: str
    csrf: str
    issue_cookie: bool  # a new session to send with the response

    @property
    def email(self) -> str:
        return self.account.email

    @property
    def name(self) -> str:
        return self.account.name

    def has(self, allowed: Iterable[str]) -> bool:
        return bool(self.roles & set(allowed))


def roles_of(
    account: Account, config: DashboardConfig, policy_reviewers: Iterable[str]
) -> set[str]:
    """Configured lists and roster roles; `manager` from the org chart; everyone a member."""
    email = account.email.lower()
    listed = {
        ADMIN: config.admins,
        REVIEWER: (*config.reviewers, *policy_reviewers),
        SAFETY: config.safety,
    }
    roster = {r.lower() for r in account.roles}
    roles = {MEMBER}
    for role, emails in listed.items():
        if role in roster or email in {e.strip().lower() for e in emails}:
            roles.add(role)
    if account.manages:
        roles.add(MANAGER)
    return roles


class Sessions:
    """Stateless sessions in a signed, timed cookie, and the OIDC round trip's state."""

    def __init__(self, config: DashboardConfig) -> None:
        self.config = config
        self.max_age = config.session_hours * 3600
        self._session = URLSafeTimedSerializer(config.secret_key, salt="plaudit.dashboard.session")
        self._oidc = URLSafeTimedSerializer(config.secret_key, salt="plaudit.dashboard.oidc")
        self._csrf_key = hashlib.sha256(b"plaudit.dashboard.csrf\x00" + config.secret_key.encode())
        # Sessions signed out in this process, until their cookies would have expired anyway;
        # other processes learn of them from the database (`bot.dashboard.signout`).
        self._signed_out: dict[str, float] = {}

    @staticmethod
    def new_sid() -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, sid: str) -> str:
        return hmac.new(self._csrf_key.digest(), sid.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, sid: str, token: str | None) -> bool:
        # Bytes: compare_digest refuses str with non-ASCII characters, and a form may hold any.
        given = str(token or "").encode("utf-8", "surrogatepass")
        return bool(given) and hmac.compare_digest(self.csrf_token(sid).encode(), given)

    def read(self, request: Request) -> tuple[str, str] | None:
        """(session id, email) of a valid, unexpired session cookie."""
        return self.parse(request.cookies.get(SESSION_COOKIE))

    def sign_out(self, sid: str) -> None:
        """Refuse session `sid` from now on, whatever copies of its cookie remain."""
        now = time.monotonic()
        self._signed_out = {s: t for s, t in self._signed_out.items() if t > now}
        self._signed_out[sid] = now + self.max_age

    def parse(self, raw: str | None) -> tuple[str, str] | None:
        """(session id, email) of a session cookie's value, if it is valid, unexpired and
        not signed out here."""
        if not raw:
            return None
        try:
            data = self._session.loads(raw, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        sid, email = data.get("sid"), data.get("email")
        if not isinstance(sid, str) or not isinstance(email, str):
            return None
        if sid in self._signed_out:
            return None
        return sid, email

    def write(self, response: Response, request: Request, *, sid: str, email: str) -> None:
        value = self._session.dumps({"sid": sid, "email": email})
        self._set(response, request, SESSION_COOKIE, value, self.max_age)

    def clear(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            SESSION_COOKIE,
            path=cookie_path(request),
            secure=self.config.secure_cookies,
            httponly=True,
            samesite="lax",
        )

    def write_oidc(self, response: Response, request: Request, data: dict[str, str]) -> None:
        self._set(response, request, OIDC_COOKIE, self._oidc.dumps(data), OIDC_SECONDS)

    def read_oidc(self, request: Request) -> dict[str, Any] | None:
        raw = request.cookies.get(OIDC_COOKIE)
        if not raw:
            return None
        try:
            data = self._oidc.loads(raw, max_age=OIDC_SECONDS)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None

    def clear_oidc(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            OIDC_COOKIE,
            path=cookie_path(request),
            secure=self.config.secure_cookies,
            httponly=True,
            samesite="lax",
        )

    def _set(self, response: Response, request: Request, key: str, value: str, age: int) -> None:
        response.set_cookie(
            key,
            value,
            max_age=age,
            path=cookie_path(request),
            secure=self.config.secure_cookies,
            httponly=True,
            samesite="lax",
        )


def signed_out_key(sid: str) -> str:
    """The key under which the sign-out of session `sid` is recorded (a digest: the record
    needs no usable session id)."""
    return f"{SIGNED_OUT}:{hashlib.sha256(sid.encode()).hexdigest()}"


def base_path(request: Request) -> str:
    """Where the dashboard is mounted ('' at the root)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def cookie_path(request: Request) -> str:
    return base_path(request) or "/"


def safe_next(request: Request, target: str | None) -> str:
    """A local path inside the dashboard to return to after sign-in, never another site."""
    base = base_path(request)
    fallback = base + "/"
    if not target or not target.startswith(base + "/") or target.startswith("//"):
        return fallback
    if "\\" in target or any(ord(c) < 0x20 for c in target):
        return fallback
    return target

"""The dashboard's request core: who is asking and what their roles open, forms and their
CSRF check, rendering, and the sprint, filters and workspace a request asks for."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from bot.dashboard import queries
from bot.dashboard.auth import (
    ADMIN,
    EMAIL,
    MANAGER,
    MEMBER,
    REVIEWER,
    SAFETY,
    Sessions,
    Viewer,
    base_path,
    roles_of,
)
from bot.dashboard.config import DashboardConfig
from bot.dashboard.oidc import OidcClient
from bot.runtime import Runtime
from handlers.leaderboard import Filters
from handlers.sprints import Sprint

log = logging.getLogger("plaudit.dashboard")
HERE = Path(__file__).parent
MAX_FORM = 16 * 1024
_SPRINT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$")
_TEAM_ID = re.compile(r"^T[A-Z0-9]{2,31}$")

# Who may open what (everyone signed in is a member).
ACCESS: dict[str, frozenset[str]] = {
    "leaderboard": frozenset({MEMBER}),
    "feed": frozenset({MEMBER}),
    "reviews": frozenset({REVIEWER, ADMIN}),
    "retract": frozenset({ADMIN}),
    "audit": frozenset({ADMIN}),
    "pv": frozenset({SAFETY, ADMIN}),
    # Results are aggregate and thresholded as in chat: admins and managers see them.
    "surveys": frozenset({ADMIN, MANAGER}),
    "collaboration": frozenset({ADMIN, MANAGER}),  # aggregate and thresholded, as surveys
    "milestones": frozenset({MEMBER}),
    "kpis": frozenset({ADMIN, MANAGER}),  # business KPIs, weekly and company-wide or by team
    "pilots": frozenset({ADMIN, MANAGER}),  # aggregate and thresholded, as surveys
    "configuration": frozenset({ADMIN}),
    "export.leaderboard": frozenset({MEMBER}),
    "export.recognitions": frozenset({ADMIN, REVIEWER}),
    "export.survey": frozenset({ADMIN, MANAGER}),
    "export.collaboration": frozenset({ADMIN, MANAGER}),
}
NAV = (
    ("leaderboard", "/", "Leaderboard"),
    ("feed", "/feed", "Recognition feed"),
    ("reviews", "/reviews", "Reviews"),
    ("audit", "/audit", "Audit trail"),
    ("pv", "/pv", "PV cases"),
    ("surveys", "/surveys", "Surveys"),
    ("collaboration", "/collaboration", "Collaboration"),
    ("milestones", "/milestones", "Milestones"),
    ("kpis", "/kpis", "KPIs"),
    ("pilots", "/pilots", "Pilots"),
    ("configuration", "/configuration", "Configuration"),
)

Handler = Callable[[Request, Viewer], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def when(at: datetime | None) -> str:
    """A moment as the pages show it: UTC, to the minute."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else ""


def _text(value: str | None, limit: int = 120) -> str | None:
    """A filter typed into a query string: printable characters only (PostgreSQL refuses
    NUL in text, and no team, region or value holds a control character)."""
    value = "".join(ch for ch in (value or "") if ch.isprintable()).strip()[:limit]
    return value or None


class Dashboard:
    """The pages and what they share: who is asking, templates, forms."""

    def __init__(self, runtime: Runtime, config: DashboardConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.sessions = Sessions(config)
        self.oidc = OidcClient(config.oidc) if config.oidc else None
        self.trusted = frozenset(config.trusted_proxies)
        self.templates = Environment(
            loader=FileSystemLoader(str(HERE / "templates")),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["when"] = when
        self.extra_nav: list[tuple[str, str]] = []  # (path, label) of pages added by `extra`

    # -- who is asking -------------------------------------------------------------------
    async def identify(self, request: Request) -> Viewer | Response | None:
        """The signed-in viewer, None when nobody is, or a 403 page for a non-member."""
        cookie = self.sessions.read(request)
        email: str | None = None
        sid, issue = "", False
        header = self.config.proxy_header
        value = request.headers.get(header, "").strip() if header else ""
        if value:
            host = request.client.host if request.client else None
            if host in self.trusted:
                email = value.lower()
                if cookie and cookie[1] == email:
                    sid = cookie[0]
                else:
                    sid, issue = self.sessions.new_sid(), True
            else:
                log.warning("ignored the %s header from untrusted address %s", header, host)
        if email is None and cookie:
            sid, email = cookie
        if email is None:
            return None
        account = (
            await self.runtime.run(lambda s: queries.account(s, email))
            if EMAIL.match(email)
            else None
        )
        if account is None:
            response = self.problem(
                request,
                403,
                "Not a member",
                "You are signed in, but not as an active member of Plaudit. "
                "Ask your Plaudit administrator to add you to the roster.",
            )
            if cookie:
                self.sessions.clear(response, request)
            return response
        roles = roles_of(account, self.config, self.runtime.policy.reviewers)
        return Viewer(account, frozenset(roles), sid, self.sessions.csrf_token(sid), issue)

    def guarded(self, page: str, *, export: bool = False) -> Callable[[Handler], Endpoint]:
        """Sign-in and role check before `handler`; pages redirect to sign-in, exports 401."""
        allowed = ACCESS[page]

        def wrap(handler: Handler) -> Endpoint:
            async def endpoint(request: Request) -> Response:
                found = await self.identify(request)
                if isinstance(found, Response):
                    return found
                if found is None:
                    if export:
                        return PlainTextResponse("Sign in first.", status_code=401)
                    if request.method != "GET":
                        return self.problem(request, 401, "Sign in", "Sign in first.")
                    target = request.url.path + (
                        f"?{request.url.query}" if request.url.query else ""
                    )
                    return RedirectResponse(
                        f"{base_path(request)}/login?next={quote(target, safe='')}",
                        status_code=303,
                    )
                response: Response
                if not found.has(allowed):
                    if export:
                        return PlainTextResponse("Not allowed.", status_code=403)
                    response = self.problem(
                        request,
                        403,
                        "Not allowed",
                        "This page is for other roles than yours.",
                        viewer=found,
                    )
                else:
                    response = await handler(request, found)
                if found.issue_cookie:
                    self.sessions.write(response, request, sid=found.sid, email=found.email)
                return response

            return endpoint

        return wrap

    async def form(self, request: Request, viewer: Viewer) -> dict[str, str] | Response:
        """The posted form, once its CSRF token matches the session; else a 403 page."""
        fields: dict[str, str] = {}
        size = request.headers.get("content-length", "0")
        if not size.isdigit() or int(size) > MAX_FORM:
            return self.problem(request, 413, "Too large", "That form is too large.", viewer=viewer)
        body = await request.body()
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/x-www-form-urlencoded" and len(body) <= MAX_FORM:
            try:
                parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
            except (UnicodeDecodeError, ValueError):
                parsed = {}
            fields = {k: v[0] for k, v in parsed.items()}
        if not self.sessions.csrf_ok(viewer.sid, fields.get("csrf")):
            return self.problem(
                request,
                403,
                "Form expired",
                "This form could not be verified. Go back, reload the page and try again.",
                viewer=viewer,
            )
        return fields

    # -- rendering -----------------------------------------------------------------------
    def render(
        self,
        request: Request,
        template: str,
        *,
        viewer: Viewer | None,
        page: str | None = None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        base = base_path(request)
        nav = [
            {"href": base + path, "label": label, "current": key == page}
            for key, path, label in NAV
            if viewer is not None and viewer.has(ACCESS[key])
        ]
        if viewer is not None:
            nav += [
                {
                    "href": base + path,
                    "label": label,
                    "current": path == request.url.path[len(base) :],
                }
                for path, label in self.extra_nav
            ]
        body = self.templates.get_template(template).render(
            base=base,
            viewer=viewer,
            nav=nav,
            csrf=viewer.csrf if viewer else "",
            roles=sorted(viewer.roles) if viewer else [],
            **context,
        )
        return HTMLResponse(body, status_code=status)

    def problem(
        self,
        request: Request,
        status: int,
        title: str,
        text: str,
        *,
        viewer: Viewer | None = None,
        sign_in: bool = False,
    ) -> HTMLResponse:
        return self.render(
            request,
            "message.html",
            viewer=viewer,
            status=status,
            title=title,
            text=text,
            sign_in=sign_in,
        )

    # -- sprints and filters -------------------------------------------------------------
    def sprint(self, request: Request) -> Sprint | str | None:
        """The sprint asked for (`?sprint=`), else the current or last one (None between
        explicit sprints); the id asked for when there is no such sprint."""
        calendar = self.runtime.policy.sprints
        now = self.runtime.clock.now()
        wanted = _text(request.query_params.get("sprint"), 40)
        if wanted is None:
            return calendar.sprint_of(now) or calendar.last_ended(now)
        found = calendar.by_id(wanted, near=now) if _SPRINT_ID.match(wanted) else None
        return found if found is not None else wanted

    def sprint_choices(self, selected: Sprint | None) -> list[str]:
        calendar = self.runtime.policy.sprints
        if calendar.ranges:
            ids = [r.id for r in calendar.ranges]
        else:
            ids = []
            sprint = calendar.sprint_of(self.runtime.clock.now())
            while sprint is not None and len(ids) < 8:
                ids.append(sprint.id)
                sprint = calendar.previous(sprint)
        if selected is not None and selected.id not in ids:
            ids.insert(0, selected.id)
        return ids

    @staticmethod
    def filters(request: Request) -> Filters:
        q = request.query_params
        return Filters(
            team=_text(q.get("team")),
            region=_text(q.get("region")),
            therapeutic_area=_text(q.get("therapeutic_area")),
            value=_text(q.get("value"), 64),
        )

    def workspace(self, request: Request, viewer: Viewer) -> str | None:
        """The Slack workspace whose boards and feed this viewer sees, when workspaces are
        counted apart (None: everyone's). Admins may ask for another with `?workspace=`."""
        if not self.config.workspaces_apart:
            return None
        wanted = request.query_params.get("workspace", "")
        if ADMIN in viewer.roles and _TEAM_ID.match(wanted):
            return wanted
        return viewer.account.workspace or self.config.home_workspace

    async def not_found(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        title = "Not found" if status == 404 else "Method not allowed"
        return self.problem(request, status, title, "There is nothing here for that request.")

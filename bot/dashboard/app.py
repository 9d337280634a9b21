"""The dashboard: server-rendered pages for members, managers, reviewers, admins and the
safety team, mounted into the main ASGI app at /dashboard."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.dashboard import data
from bot.dashboard.auth import (
    ADMIN,
    MANAGER,
    MEMBER,
    REVIEWER,
    SAFETY,
    Sessions,
    Viewer,
    base_path,
    roles_of,
    safe_next,
)
from bot.dashboard.config import DashboardConfig
from bot.dashboard.oidc import OidcClient, OidcError, TokenRejected
from bot.runtime import Runtime
from handlers import review
from handlers.events import Person
from handlers.leaderboard import By, Filters
from handlers.sprints import Sprint

log = logging.getLogger("plaudit.dashboard")
HERE = Path(__file__).parent
PAGE_SIZE = 20
BOARD_TOP = 50
CHART_ROWS = 10
MAX_FORM = 16 * 1024
_SPRINT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$")
_SURVEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")

# Who may open what (everyone signed in is a member).
ACCESS: dict[str, frozenset[str]] = {
    "leaderboard": frozenset({MEMBER}),
    "feed": frozenset({MEMBER}),
    "reviews": frozenset({REVIEWER, ADMIN}),
    "audit": frozenset({ADMIN}),
    "pv": frozenset({SAFETY, ADMIN}),
    # Results are aggregate and thresholded as in chat: admins and managers see them.
    "surveys": frozenset({ADMIN, MANAGER}),
    "export.leaderboard": frozenset({MEMBER}),
    "export.recognitions": frozenset({ADMIN, REVIEWER}),
}
NAV = (
    ("leaderboard", "/", "Leaderboard"),
    ("feed", "/feed", "Recognition feed"),
    ("reviews", "/reviews", "Reviews"),
    ("audit", "/audit", "Audit trail"),
    ("pv", "/pv", "PV cases"),
    ("surveys", "/surveys", "Surveys"),
)
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}

Handler = Callable[[Request, Viewer], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class SecurityHeaders:
    """Adds the security headers to every response; pages are not cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(str(scope.get("root_path", "")) + "/static/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if not static:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, sending)


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else ""


def _text(value: str | None, limit: int = 120) -> str | None:
    value = (value or "").strip()[:limit]
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
        self.templates.filters["when"] = _when
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
            await self.runtime.run(lambda s: data.account(s, email))
            if _EMAIL.match(email)
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

    # -- pages ---------------------------------------------------------------------------
    async def leaderboard(self, request: Request, viewer: Viewer) -> Response:
        sprint = self.sprint(request)
        if isinstance(sprint, str):
            return self.problem(
                request, 404, "No such sprint", f"There is no sprint {sprint}.", viewer=viewer
            )
        filters = self.filters(request)
        exclude = self.runtime.boards.exclude
        boards = None
        if sprint is not None:
            chosen = sprint
            boards = await self.runtime.run(
                lambda s: data.boards(s, chosen, filters, exclude, BOARD_TOP)
            )
        choices = boards.choices if boards else await self.runtime.run(data.choices)
        query = {
            k: v
            for k, v in {
                "sprint": request.query_params.get("sprint"),
                **vars(filters),
            }.items()
            if v
        }
        return self.render(
            request,
            "leaderboard.html",
            viewer=viewer,
            page="leaderboard",
            title="Leaderboard",
            sprint=sprint,
            sprints=self.sprint_choices(sprint),
            filters=filters,
            choices=choices,
            values=self.runtime.policy.values,
            boards=boards,
            chart=_chart(boards.people.rows[:CHART_ROWS]) if boards else None,
            export_query="&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items()),
        )

    async def feed(self, request: Request, viewer: Viewer) -> Response:
        page = request.query_params.get("page", "1")
        number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
        mine = request.query_params.get("scope") == "org"
        if mine and MANAGER not in viewer.roles:
            return self.problem(
                request, 403, "Not allowed", "Only managers have a My org view.", viewer=viewer
            )
        manager = viewer.account.id if mine else None
        items, more = await self.runtime.run(
            lambda s: data.feed(s, page=number, size=PAGE_SIZE, manager_id=manager)
        )
        return self.render(
            request,
            "feed.html",
            viewer=viewer,
            page="feed",
            title="My org's recognitions" if mine else "Recognition feed",
            items=items,
            number=number,
            more=more,
            mine=mine,
            manager=MANAGER in viewer.roles,
        )

    async def reviews(
        self,
        request: Request,
        viewer: Viewer,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        waiting = await self.runtime.run(data.pending_reviews)
        done = None
        decided, outcome = (
            request.query_params.get("decided", ""),
            request.query_params.get("status"),
        )
        if request.method == "GET" and decided.isdigit() and outcome in ("approved", "rejected"):
            done = f"Review #{int(decided)} {outcome}."
        return self.render(
            request,
            "reviews.html",
            viewer=viewer,
            page="reviews",
            status=status,
            title="Reviews",
            waiting=waiting,
            done=done,
            error=error,
        )

    async def decide(self, request: Request, viewer: Viewer) -> Response:
        if request.path_params["verdict"] not in ("approve", "reject"):
            return self.problem(request, 404, "Not found", "No such decision.", viewer=viewer)
        fields = await self.form(request, viewer)
        if isinstance(fields, Response):
            return fields
        review_id = int(request.path_params["review_id"])
        approve = request.path_params["verdict"] == "approve"
        reason = (fields.get("reason") or "").strip()
        if not approve and not reason:
            return await self.reviews(
                request,
                viewer,
                error=f"Review #{review_id}: say why it is rejected, so the giver can learn.",
                status=400,
            )
        if len(reason) > 1000:
            return await self.reviews(
                request, viewer, error="Keep the reason under 1,000 characters.", status=400
            )
        reviewer = Person(
            platform="email",
            workspace=None,
            user_id=viewer.email,
            display_name=viewer.name,
            email=viewer.email,
        )
        # The dashboard has checked the role (plaudit.yaml or the roster): let this reviewer
        # decide even when plaudit.yaml names them only for the dashboard.
        policy = replace(
            self.runtime.policy, reviewers=(*self.runtime.policy.reviewers, viewer.email)
        )
        now = self.runtime.clock.now()
        result = await self.runtime.run(
            lambda s: review.decide(
                review_id,
                reviewer,
                approve=approve,
                reason=reason or None,
                session=s,
                policy=policy,
                now=now,
            )
        )
        if isinstance(result, review.NotAllowed):
            return await self.reviews(request, viewer, error=result.message, status=409)
        self.runtime.poke()
        return RedirectResponse(
            f"{base_path(request)}/reviews?decided={result.review_id}&status={result.status}",
            status_code=303,
        )

    async def audit(self, request: Request, viewer: Viewer) -> Response:
        trail = await self.runtime.run(data.audit)
        return self.render(
            request, "audit.html", viewer=viewer, page="audit", title="Audit trail", trail=trail
        )

    async def pv(self, request: Request, viewer: Viewer) -> Response:
        with_text = SAFETY in viewer.roles
        cases = await self.runtime.run(lambda s: data.pv_cases(s, with_text=with_text))
        return self.render(
            request,
            "pv.html",
            viewer=viewer,
            page="pv",
            title="PV cases",
            cases=cases,
            with_text=with_text,
        )

    async def surveys(self, request: Request, viewer: Viewer) -> Response:
        listing = await self.runtime.run(data.survey_listing)
        return self.render(
            request,
            "surveys.html",
            viewer=viewer,
            page="surveys",
            title="Surveys",
            listing=listing,
            found=None,
        )

    async def survey(self, request: Request, viewer: Viewer) -> Response:
        survey_id = str(request.path_params["survey_id"])
        wanted = request.query_params.get("round")
        number: int | None = None
        if wanted:
            if not wanted.isdigit() or not 0 < int(wanted) < 1_000_000:
                return self.problem(
                    request, 404, "No such round", "There is no such round.", viewer=viewer
                )
            number = int(wanted)
        found = (
            await self.runtime.run(lambda s: data.survey_round(s, survey_id, number))
            if _SURVEY_ID.match(survey_id)
            else None
        )
        if found is None:
            return self.problem(
                request,
                404,
                "Not found",
                "There is no such survey or round.",
                viewer=viewer,
            )
        res = found.results
        return self.render(
            request,
            "surveys.html",
            viewer=viewer,
            page="surveys",
            title=f"{res.title}, round {res.number}",
            listing=None,
            found=found,
            res=res,
            charts={q.id: _distribution_chart(q) for q in res.questions},
            teams=[g for g in res.groups if g.by == "team"],
            regions=[g for g in res.groups if g.by == "region"],
            scored=[q for q in res.questions if q.type in ("scale", "enps") and not q.hidden],
            trend_ids=sorted(
                {k for p in res.trend for k in p.scores},
                key=lambda k: list(found.labels).index(k) if k in found.labels else 1_000,
            ),
        )

    # -- exports -------------------------------------------------------------------------
    async def export_leaderboard(self, request: Request, viewer: Viewer) -> Response:
        sprint = self.sprint(request)
        if isinstance(sprint, str):
            return PlainTextResponse("No such sprint.", status_code=404)
        if sprint is None:
            return PlainTextResponse("No sprint is running.", status_code=404)
        by: By = "team" if request.query_params.get("by") == "team" else "person"
        filters = self.filters(request)
        exclude = self.runtime.boards.exclude
        now = self.runtime.clock.now()
        chosen = sprint
        body = await self.runtime.run(
            lambda s: data.export_leaderboard(
                s,
                chosen,
                by=by,
                filters=filters,
                exclude=exclude,
                actor=f"email:{viewer.email}",
                now=now,
            )
        )
        return _csv(body, f"leaderboard-{sprint.id}-{by}.csv")

    async def export_recognitions(self, request: Request, viewer: Viewer) -> Response:
        sprint: Sprint | None = None
        if request.query_params.get("sprint"):
            found = self.sprint(request)
            if not isinstance(found, Sprint):
                return PlainTextResponse("No such sprint.", status_code=404)
            sprint = found
        now = self.runtime.clock.now()
        body = await self.runtime.run(
            lambda s: data.export_recognitions(
                s, sprint=sprint, actor=f"email:{viewer.email}", now=now
            )
        )
        name = f"recognitions-{sprint.id}.csv" if sprint else "recognitions.csv"
        return _csv(body, name)

    # -- signing in and out --------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        found = await self.identify(request)
        if isinstance(found, Response):
            return found
        target = safe_next(request, request.query_params.get("next"))
        if found is not None:
            response: Response = RedirectResponse(target, status_code=303)
            if found.issue_cookie:
                self.sessions.write(response, request, sid=found.sid, email=found.email)
            return response
        if self.oidc is None:
            return self.problem(
                request,
                401,
                "Sign in",
                "Sign in through your organisation's single sign-on: open Plaudit through "
                "its sign-in proxy, or ask your administrator to set up OpenID Connect.",
            )
        try:
            started = await self.oidc.start()
        except OidcError as exc:
            log.warning("OIDC sign-in could not start: %s", exc)
            return self.problem(
                request, 502, "Sign-in unavailable", "The sign-in provider cannot be reached."
            )
        response = RedirectResponse(started.url, status_code=302)
        self.sessions.write_oidc(
            response,
            request,
            {
                "state": started.state,
                "nonce": started.nonce,
                "verifier": started.verifier,
                "next": target,
            },
        )
        return response

    async def callback(self, request: Request) -> Response:
        if self.oidc is None:
            return self.problem(request, 404, "Not found", "Sign-in is not set up here.")
        pending = self.sessions.read_oidc(request)
        state = request.query_params.get("state", "")
        expected = str(pending.get("state", "")) if pending else ""
        response: Response
        if not state or not expected or not hmac.compare_digest(state.encode(), expected.encode()):
            response = self.problem(
                request,
                400,
                "Sign-in expired",
                "This sign-in is not valid or has expired.",
                sign_in=True,
            )
            self.sessions.clear_oidc(response, request)
            return response
        assert pending is not None
        email, why = await self._signed_in_email(request, pending)
        if email is None:
            response = self.problem(request, 403, "Sign-in refused", why, sign_in=True)
            self.sessions.clear_oidc(response, request)
            return response
        account = await self.runtime.run(lambda s: data.account(s, email))
        if account is None:
            response = self.problem(
                request,
                403,
                "Not a member",
                "You signed in, but not as an active member of Plaudit. "
                "Ask your Plaudit administrator to add you to the roster.",
            )
            self.sessions.clear_oidc(response, request)
            return response
        log.info("dashboard sign-in of member %s", account.id)
        response = RedirectResponse(safe_next(request, pending.get("next")), status_code=303)
        self.sessions.write(response, request, sid=self.sessions.new_sid(), email=account.email)
        self.sessions.clear_oidc(response, request)
        return response

    async def _signed_in_email(
        self, request: Request, pending: dict[str, Any]
    ) -> tuple[str | None, str]:
        assert self.oidc is not None
        error = request.query_params.get("error")
        if error:
            return None, f"The sign-in provider answered: {error[:100]}"
        code = request.query_params.get("code")
        if not code:
            return None, "The sign-in provider sent no authorization code."
        try:
            claims = await self.oidc.finish(
                code, verifier=str(pending.get("verifier", "")), nonce=str(pending.get("nonce", ""))
            )
        except TokenRejected as exc:
            log.warning("OIDC sign-in refused: %s", exc)
            return None, "The sign-in could not be verified."
        except OidcError as exc:
            log.warning("OIDC sign-in failed: %s", exc)
            return None, "The sign-in provider could not be reached."
        email = claims.get("email")
        if not isinstance(email, str) or not _EMAIL.match(email):
            return None, "The sign-in provider did not say who you are (no email)."
        if claims.get("email_verified") is False:
            return None, "The sign-in provider has not verified your email address."
        return email.strip().lower(), ""

    async def logout(self, request: Request) -> Response:
        found = await self.identify(request)
        if isinstance(found, Response):
            return found
        if found is None:
            return self.problem(request, 200, "Signed out", "You are signed out.", sign_in=True)
        fields = await self.form(request, found)
        if isinstance(fields, Response):
            return fields
        text = "You are signed out."
        if self.config.proxy_header:
            text += " Your single sign-on proxy may sign you in again on your next visit."
        response = self.problem(request, 200, "Signed out", text, sign_in=True)
        self.sessions.clear(response, request)
        return response

    async def not_found(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        title = "Not found" if status == 404 else "Method not allowed"
        return self.problem(request, status, title, "There is nothing here for that request.")


def _csv(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


def _chart(rows: tuple[Any, ...]) -> dict[str, Any] | None:
    """Geometry of a horizontal bar chart (kudos, then milestone points) drawn as SVG."""
    if not rows:
        return None
    label, area, bar, gap = 220, 340, 22, 8
    most = max(r.points for r in rows) or 1
    bars = []
    for i, r in enumerate(rows):
        kudos = round(area * r.recognition_points / most)
        milestone = round(area * r.milestone_points / most)
        bars.append(
            {
                "y": 10 + i * (bar + gap),
                "label": f"{r.rank}. {r.name}",
                "kudos": kudos,
                "milestone": milestone,
                "points": r.points,
                "end": label + kudos + milestone + 6,
            }
        )
    return {
        "width": label + area + 60,
        "height": 20 + len(rows) * (bar + gap),
        "label": label,
        "bar": bar,
        "bars": bars,
        "milestones": any(r.milestone_points for r in rows),
    }


def _distribution_chart(question: Any) -> dict[str, Any] | None:
    """Geometry of one question's answer counts as horizontal bars, drawn as SVG."""
    if question.hidden or not question.distribution:
        return None
    label, area, bar, gap = 160, 300, 18, 6
    most = max(question.distribution.values()) or 1
    bars = []
    for i, (name, count) in enumerate(question.distribution.items()):
        width = round(area * count / most)
        bars.append(
            {
                "y": 6 + i * (bar + gap),
                "label": name,
                "count": count,
                "width": width,
                "end": label + width + 6,
            }
        )
    return {
        "width": label + area + 50,
        "height": 12 + len(bars) * (bar + gap),
        "label": label,
        "bar": bar,
        "bars": bars,
    }


def dashboard_app(
    runtime: Runtime,
    config: DashboardConfig,
    *,
    extra: Callable[[Dashboard], Sequence[BaseRoute]] | None = None,
) -> Starlette:
    """The dashboard as an ASGI app, to be mounted at /dashboard; `extra` adds routes built
    on the dashboard's sign-in, forms and templates (the demo's sandbox)."""
    d = Dashboard(runtime, config)
    routes = [
        Route("/", d.guarded("leaderboard")(d.leaderboard), methods=["GET"], name="leaderboard"),
        Route("/feed", d.guarded("feed")(d.feed), methods=["GET"], name="feed"),
        Route("/reviews", d.guarded("reviews")(d.reviews), methods=["GET"], name="reviews"),
        Route(
            "/reviews/{review_id:int}/{verdict:str}",
            d.guarded("reviews")(d.decide),
            methods=["POST"],
            name="decide",
        ),
        Route("/audit", d.guarded("audit")(d.audit), methods=["GET"], name="audit"),
        Route("/pv", d.guarded("pv")(d.pv), methods=["GET"], name="pv"),
        Route("/surveys", d.guarded("surveys")(d.surveys), methods=["GET"], name="surveys"),
        Route(
            "/surveys/{survey_id:str}",
            d.guarded("surveys")(d.survey),
            methods=["GET"],
            name="survey",
        ),
        Route(
            "/export/leaderboard.csv",
            d.guarded("export.leaderboard", export=True)(d.export_leaderboard),
            methods=["GET"],
        ),
        Route(
            "/export/recognitions.csv",
            d.guarded("export.recognitions", export=True)(d.export_recognitions),
            methods=["GET"],
        ),
        Route("/login", d.login, methods=["GET"], name="login"),
        Route("/auth/callback", d.callback, methods=["GET"], name="callback"),
        Route("/logout", d.logout, methods=["POST"], name="logout"),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    if extra is not None:
        routes[-1:-1] = extra(d)
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: d.not_found, 405: d.not_found},
    )

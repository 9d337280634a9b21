"""The dashboard: server-rendered pages for members, managers, reviewers, admins and the
safety team, mounted into the main ASGI app at /dashboard; the route table and the security
headers every response carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.dashboard import (
    audit_trail,
    collaboration,
    configuration,
    exports,
    kpis,
    links,
    milestones,
    pages,
    pilots,
    signin,
    surveys,
)
from bot.dashboard.auth import Sessions
from bot.dashboard.config import DashboardConfig
from bot.dashboard.core import ACCESS, HERE, NAV, Dashboard, Endpoint, Handler
from bot.dashboard.signout import SignedOutSessions
from bot.runtime import Runtime
from handlers import i18n

__all__ = [
    "ACCESS",
    "NAV",
    "SECURITY_HEADERS",
    "Dashboard",
    "Endpoint",
    "Handler",
    "SecurityHeaders",
    "dashboard_app",
]

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


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


class InEnglish:
    """The dashboard's pages are in English: a use case's message shown on one (a refusal
    to take a kudos back) is too, whatever the organisation's chat language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with i18n.speaking(i18n.SOURCE):
            await self.app(scope, receive, send)


def dashboard_app(
    runtime: Runtime,
    config: DashboardConfig,
    *,
    extra: Callable[[Dashboard], Sequence[BaseRoute]] | None = None,
) -> Starlette:
    """The dashboard as an ASGI app, to be mounted at /dashboard; `extra` adds routes built
    on the dashboard's sign-in, forms and templates (the demo's sandbox)."""
    d = Dashboard(runtime, config)
    routes = [*_routes(d), *collaboration.routes(d), *kpis.routes(d), *pilots.routes(d)]
    if extra is not None:
        routes[-1:-1] = extra(d)
    return Starlette(
        routes=routes,
        # A signed-out session's cookie is taken off the request first (on any replica).
        middleware=[
            Middleware(SignedOutSessions, sessions=Sessions(config), runtime=runtime),
            Middleware(SecurityHeaders),
            Middleware(InEnglish),
        ],
        exception_handlers={404: d.not_found, 405: d.not_found},
    )


def _routes(d: Dashboard) -> list[BaseRoute]:
    """Pages behind sign-in and their roles, exports, sign-in, static files (`extra` before)."""

    def page(name: str, handler: Callable[..., Awaitable[Response]]) -> Endpoint:
        return d.guarded(name)(partial(handler, d))

    def export(name: str, handler: Callable[..., Awaitable[Response]]) -> Endpoint:
        return d.guarded(name, export=True)(partial(handler, d))

    return [
        Route("/", page("leaderboard", pages.leaderboard), methods=["GET"], name="leaderboard"),
        Route("/feed", page("feed", pages.feed), methods=["GET"], name="feed"),
        Route(
            "/feed/{recognition_id:int}/retract", page("retract", pages.retract), methods=["POST"]
        ),
        Route("/reviews", page("reviews", pages.reviews), methods=["GET"], name="reviews"),
        Route(
            "/reviews/{review_id:int}/{verdict:str}",
            page("reviews", pages.decide),
            methods=["POST"],
            name="decide",
        ),
        Route("/audit", page("audit", audit_trail.audit), methods=["GET"], name="audit"),
        Route("/pv", page("pv", pages.pv), methods=["GET"], name="pv"),
        Route("/surveys", page("surveys", surveys.listing), methods=["GET"], name="surveys"),
        Route(
            "/surveys/{survey_id:str}",
            page("surveys", surveys.survey),
            methods=["GET"],
            name="survey",
        ),
        Route(
            "/milestones",
            page("milestones", milestones.milestones_page),
            methods=["GET"],
            name="milestones",
        ),
        Route(
            "/configuration",
            page("configuration", configuration.configuration_page),
            methods=["GET"],
            name="configuration",
        ),
        Route(
            "/export/survey-{survey_id:str}.csv",
            export("export.survey", surveys.export_survey),
            methods=["GET"],
        ),
        Route(
            "/export/leaderboard.csv",
            export("export.leaderboard", exports.export_leaderboard),
            methods=["GET"],
        ),
        Route(
            "/export/recognitions.csv",
            export("export.recognitions", exports.export_recognitions),
            methods=["GET"],
        ),
        Route("/login", partial(signin.login, d), methods=["GET"], name="login"),
        Route("/auth/callback", partial(signin.callback, d), methods=["GET"], name="callback"),
        Route("/logout", partial(signin.logout, d), methods=["POST"], name="logout"),
        Route("/link", partial(links.redeem, d), methods=["GET"], name="link"),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]

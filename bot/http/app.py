"""The ASGI app, assembled: its shared state, lifespan, middleware and routes."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route

from bot.bigcommerce.webhook import bigcommerce_webhook
from bot.http.guards import BodyGuard
from bot.http.health import healthz, readyz
from bot.http.home import home, readme
from bot.http.lifespan import channel_members, lifespan
from bot.http.state import build_state, slack_client
from bot.http.teams import teams_messages
from bot.kpi.webhook import kpi_webhook
from bot.observability.metrics import Metrics, ObservabilityMiddleware
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import install as slack_install
from bot.slack.endpoint import ReplayGuard, slack_events, slack_oauth

__all__ = [
    "ReplayGuard",
    "channel_members",
    "create_app",
    "dashboard_routes",
    "slack_client",
]


def create_app(
    settings: Settings, runtime: Runtime, *, dispatch: bool = True, schedule: bool | None = None
) -> Starlette:
    """The app for `settings`; `dispatch` runs the outbox dispatcher, `schedule` the scheduler
    (by default: when the dispatcher runs)."""
    state = State()
    build_state(state, settings, runtime, dispatch=dispatch, schedule=schedule)
    metrics = Metrics(runtime)
    state.metrics = metrics
    app = Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            Route("/readme", readme, methods=["GET"]),
            Route("/slack/events", slack_events, methods=["POST"]),
            Route(slack_install.INSTALL_PATH, slack_oauth, methods=["GET"]),
            Route(slack_install.REDIRECT_PATH, slack_oauth, methods=["GET"]),
            Route("/api/messages", teams_messages, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/webhooks/bigcommerce", bigcommerce_webhook, methods=["POST"]),
            Route("/webhooks/kpi", kpi_webhook, methods=["POST"]),
            Route("/metrics", metrics.endpoint, methods=["GET"]),
            *dashboard_routes(settings, runtime),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(ObservabilityMiddleware, metrics=metrics),
            # Every body is read (bounded in size and time) before a route or Bolt sees it.
            Middleware(BodyGuard, timeout=settings.body_timeout),
        ],
    )
    app.state = state
    return app


def dashboard_routes(settings: Settings, runtime: Runtime) -> list[BaseRoute]:
    """`/dashboard`, when its secret is set."""
    if settings.dashboard_secret is None:
        return []
    from bot.dashboard import DashboardConfig, OidcConfig, dashboard_app

    oidc = None
    if settings.oidc_enabled and settings.public_url:
        assert settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret
        oidc = OidcConfig(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value(),
            redirect_base_url=f"{settings.public_url}/dashboard",
        )
    public = settings.public_url or ""
    config = DashboardConfig(
        secret_key=settings.dashboard_secret.get_secret_value(),
        proxy_header=settings.auth_proxy_header,
        trusted_proxies=tuple(
            a.strip() for a in settings.auth_trusted_proxies.split(",") if a.strip()
        ),
        oidc=oidc,
        # Browsers send Secure cookies only over HTTPS (and to localhost).
        secure_cookies=not public.startswith("http://"),
        admins=runtime.admins,
        reviewers=tuple(r for r in runtime.policy.reviewers if "@" in r),
        safety=runtime.safety,
        members_see_top=runtime.members_see_top,
        status=tuple(settings.status_lines()),
        workspaces_apart=settings.slack_isolated,
        home_workspace=settings.slack_home_workspace,
    )
    return [Mount("/dashboard", app=dashboard_app(runtime, config))]

"""The ASGI app: Slack's endpoint, health, and the outbox dispatcher's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import parse_qs

import aiohttp
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot.bigcommerce import sync as commerce
from bot.bigcommerce.sync import StoreSync
from bot.jobs.leader import Leadership
from bot.jobs.outbox import Dispatcher, Sender, pending_count, undelivered_safety_count
from bot.jobs.scheduler import Scheduler
from bot.observability.metrics import Metrics, ObservabilityMiddleware
from bot.runtime import Runtime
from bot.safety.email import EmailSender
from bot.safety.webhook import WebhookSender
from bot.settings import Settings
from bot.slack import app as slack_app
from bot.slack import install as slack_install
from bot.slack import socket as slack_socket
from bot.slack.clients import SlackClients
from bot.slack.send import SlackSender
from bot.teams.endpoint import teams_endpoint
from storage import migrate

log = logging.getLogger("plaudit.web")
MAX_BODY = 64 * 1024


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


def slack_client(settings: Settings) -> AsyncWebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    # The outbox owns retries; the client's own retry handlers would double them.
    return AsyncWebClient(
        token=token, base_url=settings.slack_api_url, timeout=10, retry_handlers=[]
    )


async def channel_members(clients: SlackClients, channel: str) -> list[str]:
    """Everyone in a Slack channel (conversations.members, every page); plaudit.yaml's
    channels are in the home workspace."""
    client = await clients.for_team(None)
    members: list[str] = []
    cursor = None
    while True:
        response = await client.conversations_members(channel=channel, limit=1000, cursor=cursor)
        members.extend(str(m) for m in response.get("members") or [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return members


def create_app(
    settings: Settings, runtime: Runtime, *, dispatch: bool = True, schedule: bool | None = None
) -> Starlette:
    senders: dict[str, Sender] = {}
    client: AsyncWebClient | None = None
    clients: SlackClients | None = None
    slack_handler: AsyncSlackRequestHandler | None = None
    secret_bytes = b""
    guard = ReplayGuard()
    bolt: AsyncApp | None = None
    if settings.slack_enabled:
        # Socket Mode envelopes are not signed; Bolt checks the secret only for HTTP requests.
        secret = settings.slack_signing_secret
        client = slack_client(settings)
        oauth = None
        org_channels: frozenset[str] = frozenset()
        if settings.slack_multi_workspace:
            assert settings.slack_client_id is not None
            installations = slack_install.Installations(
                runtime.engine,
                settings.slack_client_id,
                allowed=settings.slack_allowed_workspaces,
                client=client,
            )
            states = slack_install.States(runtime.engine, settings.slack_state_expiration)
            oauth = slack_install.oauth_settings(settings, installations, states)
            clients = SlackClients(client, installations, home=settings.slack_home_workspace)
            org_channels = _org_channels(runtime)
        else:
            clients = SlackClients(client)
        bolt = slack_app.build(
            runtime,
            client=client,
            signing_secret=secret.get_secret_value() if secret is not None else "",
            clients=clients,
            oauth=oauth,
            isolated=settings.slack_isolated,
        )
        if not settings.slack_socket_mode:
            assert secret is not None
            slack_handler = AsyncSlackRequestHandler(bolt)
            secret_bytes = secret.get_secret_value().encode()
        senders["slack"] = SlackSender(clients, org_channels=org_channels)
    teams = teams_endpoint(settings, runtime) if settings.teams_enabled else None
    if teams is not None:
        senders["teams"] = teams.sender
    state: dict[str, object] = {"ready": False}
    store = StoreSync(settings, runtime) if settings.bigcommerce_enabled else None
    refetches: set[asyncio.Task[object]] = set()

    async def bigcommerce_webhook(request: Request) -> Response:
        secret = settings.bigcommerce_webhook_secret
        if store is None or secret is None:
            return JSONResponse(
                {
                    "error": "webhooks_disabled",
                    "detail": "set BIGCOMMERCE_STORE_HASH, BIGCOMMERCE_ACCESS_TOKEN and "
                    "BIGCOMMERCE_WEBHOOK_SECRET",
                },
                status_code=404,
            )
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "payload_too_large"}, status_code=413)
        if not commerce.verify_webhook(request.headers, secret.get_secret_value()):
            return JSONResponse({"error": "invalid_secret"}, status_code=401)
        try:
            json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"error": "bad_request", "detail": "not JSON"}, status_code=400)
        target = commerce.parse_webhook(body)
        if target is None:
            return JSONResponse({"status": "ignored"}, status_code=200)
        # Answer at once (BigCommerce retries slow endpoints); the re-fetch runs after. A
        # duplicate delivery re-fetches again, which changes nothing.
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(
            asyncio.to_thread(store.refetch, *target)
        )
        refetches.add(task)
        task.add_done_callback(_refetched)
        return JSONResponse({"status": "queued", "kind": target[0], "id": target[1]})

    def _refetched(task: asyncio.Task[object]) -> None:
        refetches.discard(task)
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("BigCommerce re-fetch failed", exc_info=task.exception())
            return
        report = task.result()
        if getattr(report, "awarded", None):
            runtime.poke()

    async def slack_events(request: Request) -> Response:
        if settings.slack_socket_mode:
            return JSONResponse(slack_socket.HTTP_OFF, status_code=404)
        if slack_handler is None:
            return JSONResponse(
                {
                    "error": "slack_disabled",
                    "detail": "set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET",
                },
                status_code=404,
            )
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "payload_too_large"}, status_code=413)
        signature = request.headers.get("x-slack-signature", "")
        stamp = request.headers.get("x-slack-request-timestamp", "")
        if not _signed(secret_bytes, body, stamp, signature) or guard.seen(signature):
            return JSONResponse({"error": "invalid_signature"}, status_code=401)
        problem = _malformed(body, request.headers.get("content-type", ""))
        if problem:
            return JSONResponse({"error": "bad_request", "detail": problem}, status_code=400)
        response: Response = await slack_handler.handle(request)
        if response.status_code < 400:
            guard.remember(signature)
        return response

    async def slack_oauth(request: Request) -> Response:
        """`/slack/install` and `/slack/oauth_redirect`, served by Bolt's OAuth flow."""
        if slack_handler is None or not settings.slack_multi_workspace:
            return JSONResponse(
                {
                    "error": "slack_install_disabled",
                    "detail": "set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET "
                    "and PLAUDIT_PUBLIC_URL (instead of SLACK_BOT_TOKEN)",
                },
                status_code=404,
            )
        response: Response = await slack_handler.handle(request)
        return response

    async def teams_messages(request: Request) -> Response:
        if teams is None:
            return JSONResponse(
                {
                    "error": "teams_disabled",
                    "detail": "set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD",
                },
                status_code=404,
            )
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "payload_too_large"}, status_code=413)
        if "application/json" not in request.headers.get("content-type", ""):
            return JSONResponse({"error": "unsupported_media_type"}, status_code=415)
        status, answer = await teams.handle(body, request.headers.get("authorization"))
        if answer is None:
            return Response(status_code=status)
        return JSONResponse(answer, status_code=status)

    async def healthz(_: Request) -> Response:
        if not state["ready"]:
            return JSONResponse({"status": "starting"}, status_code=503)
        client_id = settings.slack_client_id if settings.slack_multi_workspace else None
        try:
            pending, pv_dead, installed = await runtime.run(
                lambda s: (
                    pending_count(s),
                    undelivered_safety_count(s),
                    slack_install.installed(s.connection(), client_id) if client_id else None,
                )
            )
        except Exception as exc:  # the database is the one thing health must report
            log.warning("health check failed: %s", exc)
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        extra = {} if installed is None else {"slack_workspaces": installed}
        return JSONResponse(
            {
                "status": "ok",
                "database": runtime.engine.dialect.name,
                "slack": settings.slack_enabled,
                **extra,
                "teams": settings.teams_enabled,
                "outbox_pending": pending,
                "pv_undelivered": pv_dead,
            },
            status_code=200,
        )

    async def readyz(_: Request) -> Response:
        """Ready for traffic: the database answers, its schema is current, and the outbox
        dispatcher and scheduler are running."""
        checks: dict[str, object] = {}
        try:
            current = await runtime.run(lambda s: migrate.revision_of(s.connection()))
            checks["database"] = "ok"
            checks["migrations"] = "current" if current == migrate.head() else f"at {current}"
        except Exception as exc:
            log.warning("readiness check: database unreachable: %s", type(exc).__name__)
            checks["database"] = "unreachable"
        dispatcher = state.get("dispatcher")
        checks["dispatcher"] = (
            "running"
            if isinstance(dispatcher, Dispatcher) and dispatcher.running
            else ("off" if dispatcher is None and state["ready"] else "stopped")
        )
        scheduler = state.get("scheduler")
        checks["scheduler"] = scheduler.role if isinstance(scheduler, Scheduler) else "off"
        socket = state.get("socket")
        if isinstance(socket, slack_socket.SocketMode):
            # Reported, not required: Slack keeps events for a replica that reconnects.
            checks["slack_socket_mode"] = "connected" if socket.connected else "connecting"
        ready = (
            state["ready"]
            and checks["database"] == "ok"
            and checks["migrations"] == "current"
            and checks["dispatcher"] != "stopped"
        )
        return JSONResponse(
            {"status": "ready" if ready else "not ready", **checks},
            status_code=200 if ready else 503,
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if client is not None:
            # One connection pool for every Web API call instead of a session per call.
            client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        socket = None
        if bolt is not None and settings.slack_socket_mode:
            try:
                socket = await slack_socket.start(bolt, settings)
            except BaseException:  # a refused app token: close the session, then stop startup
                if client is not None and client.session is not None:
                    await client.session.close()
                raise
        webhooks = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        senders["webhook"] = WebhookSender(webhooks)
        if settings.smtp_host:
            senders["email"] = EmailSender(settings)
        dispatcher = (
            Dispatcher(runtime, senders, workspace_rate=settings.slack_rate) if dispatch else None
        )
        if dispatcher:
            dispatcher.start()
        scheduler = None
        if dispatch if schedule is None else schedule:
            members = partial(channel_members, clients) if clients is not None else None
            scheduler = Scheduler(
                runtime, channel_members=members, store=store, leader=Leadership(runtime.engine)
            )
            scheduler.start()
        state["ready"] = True
        state["dispatcher"] = dispatcher
        state["scheduler"] = scheduler
        state["socket"] = socket
        try:
            yield
        finally:
            state["ready"] = False
            if socket is not None:
                await socket.stop()
            if refetches:
                await asyncio.wait(set(refetches), timeout=30)
            if scheduler:
                await scheduler.stop()
            if dispatcher:
                await dispatcher.stop()
            if client is not None and client.session is not None:
                await client.session.close()
            await webhooks.close()

    metrics = Metrics(runtime)
    app = Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route(slack_install.INSTALL_PATH, slack_oauth, methods=["GET"]),
            Route(slack_install.REDIRECT_PATH, slack_oauth, methods=["GET"]),
            Route("/api/messages", teams_messages, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/webhooks/bigcommerce", bigcommerce_webhook, methods=["POST"]),
            Route("/metrics", metrics.endpoint, methods=["GET"]),
            *dashboard_routes(settings, runtime),
        ],
        lifespan=lifespan,
        middleware=[Middleware(ObservabilityMiddleware, metrics=metrics)],
    )
    return app


def _org_channels(runtime: Runtime) -> frozenset[str]:
    """The Slack channels plaudit.yaml names for the whole organisation (not the kudos
    channel: a workspace's kudos are posted in that workspace)."""
    policy = runtime.policy
    found = {
        policy.review_channel,
        policy.safety_channel,
        runtime.boards.channel,
        *(survey.results_channel for survey in runtime.surveys),
    }
    return frozenset(c for c in found if c)


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
        status=tuple(settings.status_lines()),
        workspaces_apart=settings.slack_isolated,
        home_workspace=settings.slack_home_workspace,
    )
    return [Mount("/dashboard", app=dashboard_app(runtime, config))]


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


def _malformed(body: bytes, content_type: str) -> str | None:
    """Why Bolt could not parse this body, checked before Bolt sees it (it would answer 500)."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if "application/json" in content_type:
        try:
            return None if isinstance(json.loads(decoded), dict) else "expected a JSON object"
        except json.JSONDecodeError:
            return "the body is not valid JSON"
    if "application/x-www-form-urlencoded" not in content_type:
        return "unsupported content type"
    try:
        form = parse_qs(decoded, strict_parsing=bool(decoded), errors="strict")
    except (ValueError, UnicodeDecodeError):
        return "the form body is malformed"
    if "payload" in form:
        try:
            payload = json.loads(form["payload"][0])
        except json.JSONDecodeError:
            return "the payload field is not valid JSON"
        if not isinstance(payload, dict):
            return "the payload field must be a JSON object"
    elif "command" not in form and "ssl_check" not in form:
        return "neither a command nor an interaction payload"
    return None

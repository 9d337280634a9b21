"""What the routes and the lifespan share, built once per app and kept on `app.state`."""

from __future__ import annotations

import asyncio

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient
from starlette.datastructures import State

from bot.bigcommerce.sync import StoreSync
from bot.jobs.outbox import Sender
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import app as slack_app
from bot.slack import install as slack_install
from bot.slack.clients import SlackClients
from bot.slack.endpoint import ReplayGuard
from bot.slack.send import SlackSender
from bot.teams.endpoint import teams_endpoint


def build_state(
    state: State, settings: Settings, runtime: Runtime, *, dispatch: bool, schedule: bool | None
) -> None:
    """Puts on `state`: `settings`, `runtime`, the lifespan's switches `dispatch` and
    `schedule`, `senders` (the outbox's, by destination), the Slack parts (`slack_web_client`,
    `slack_clients`, `slack_bolt`, `slack_handler` and `slack_signing_secret` for HTTP mode,
    `slack_replay_guard`), `teams`, `store` and its running `refetches`; and, set by the
    lifespan while it runs: `ready`, `dispatcher`, `scheduler`, `socket`."""
    state.settings = settings
    state.runtime = runtime
    state.dispatch = dispatch
    state.schedule = schedule
    senders: dict[str, Sender] = {}
    state.senders = senders
    _build_slack(state, settings, runtime)
    teams = teams_endpoint(settings, runtime) if settings.teams_enabled else None
    if teams is not None:
        senders["teams"] = teams.sender
    state.teams = teams
    state.ready = False
    state.dispatcher = None
    state.scheduler = None
    state.sealer = None
    state.socket = None
    state.store = StoreSync(settings, runtime) if settings.bigcommerce_enabled else None
    refetches: set[asyncio.Task[object]] = set()
    state.refetches = refetches


def slack_client(settings: Settings) -> AsyncWebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    # The outbox owns retries; the client's own retry handlers would double them.
    return AsyncWebClient(
        token=token, base_url=settings.slack_api_url, timeout=10, retry_handlers=[]
    )


def _build_slack(state: State, settings: Settings, runtime: Runtime) -> None:
    runtime.dashboard_url = _dashboard_url(settings)
    state.slack_web_client = None
    state.slack_clients = None
    state.slack_bolt = None
    state.slack_handler = None
    state.slack_signing_secret = b""
    state.slack_replay_guard = ReplayGuard()
    if not settings.slack_enabled:
        return
    # Socket Mode envelopes are not signed; Bolt checks the secret only for HTTP requests.
    secret = settings.slack_signing_secret
    client = slack_client(settings)
    clients, oauth, org_channels = _workspaces(settings, runtime, client)
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
        state.slack_handler = AsyncSlackRequestHandler(bolt)
        state.slack_signing_secret = secret.get_secret_value().encode()
    state.senders["slack"] = SlackSender(clients, org_channels=org_channels)
    state.slack_web_client = client
    state.slack_clients = clients
    state.slack_bolt = bolt


def _dashboard_url(settings: Settings) -> str | None:
    """Where the dashboard is, for links in chat: only when it is on and reachable."""
    if not settings.dashboard_enabled or not settings.public_url:
        return None
    return settings.public_url.rstrip("/") + "/dashboard"


def _workspaces(
    settings: Settings, runtime: Runtime, client: AsyncWebClient
) -> tuple[SlackClients, AsyncOAuthSettings | None, frozenset[str]]:
    """The clients for each workspace, the OAuth flow that installs them (multi-workspace
    only), and the organisation's channels the outbox posts to in the home workspace."""
    if not settings.slack_multi_workspace:
        return SlackClients(client), None, frozenset()
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
    return clients, oauth, _org_channels(runtime)


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

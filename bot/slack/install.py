"""Multi-workspace Slack installs: OAuth settings, installation and state stores, pages."""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Connection, Engine

from bot.settings import Settings
from storage import slack_oauth

log = logging.getLogger("plaudit.slack.install")
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"


class Refused(BoltError):
    """An installation Plaudit does not keep: a workspace not in PLAUDIT_SLACK_WORKSPACES."""


class Installations(AsyncInstallationStore):
    """slack_sdk's SQLAlchemy installation store on Plaudit's database (tables made by our
    migrations); its blocking calls run in a thread, off the event loop.

    With `allowed` team ids, an install into any other workspace is refused: its new token
    is revoked at once (through `client`'s API address) and nothing is stored."""

    def __init__(
        self,
        engine: Engine,
        client_id: str,
        *,
        allowed: frozenset[str] = frozenset(),
        client: AsyncWebClient | None = None,
    ) -> None:
        self._store = SQLAlchemyInstallationStore(client_id=client_id, engine=engine, logger=log)
        self._engine = engine
        self.client_id = client_id
        self.allowed = allowed
        self._client = client

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        if self.allowed and installation.team_id not in self.allowed:
            await self._revoke(installation.bot_token)
            raise Refused(f"Slack workspace {installation.team_id} is not served here")
        await asyncio.to_thread(self._store.save, installation)

    async def _revoke(self, token: str | None) -> None:
        if token is None or self._client is None:
            return
        client = AsyncWebClient(
            token=token,
            base_url=self._client.base_url,
            timeout=self._client.timeout,
            session=self._client.session,
        )
        try:
            await client.auth_revoke()
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not revoke the token of a refused install: %s", exc)

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self._store.save_bot, bot)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        return await asyncio.to_thread(
            lambda: self._store.find_bot(
                enterprise_id=enterprise_id or None,  # a slash command sends "" outside Grid
                team_id=team_id,
                is_enterprise_install=is_enterprise_install,
            )
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await asyncio.to_thread(
            lambda: self._store.find_installation(
                enterprise_id=enterprise_id or None,
                team_id=team_id,
                user_id=user_id,
                is_enterprise_install=is_enterprise_install,
            )
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(
            lambda: self._store.delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        )

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        await asyncio.to_thread(
            lambda: self._store.delete_installation(
                enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
            )
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    async def bot_token(self, team_id: str) -> str | None:
        """The newest bot token of a workspace (None when it has none)."""
        return await asyncio.to_thread(bot_token, self._engine, self.client_id, team_id)

    async def forget(self, team_id: str) -> None:
        """Delete every installation and bot of a workspace (it uninstalled Plaudit)."""

        def work() -> None:
            with self._engine.begin() as conn:
                slack_oauth.forget_workspace(conn=conn, client_id=self.client_id, team_id=team_id)

        await asyncio.to_thread(work)


def bot_token(engine: Engine, client_id: str, team_id: str) -> str | None:
    """The newest bot token of a workspace, whatever Enterprise Grid it belongs to (an
    outbox row knows its team only)."""
    with engine.connect() as conn:
        return slack_oauth.bot_token(conn=conn, client_id=client_id, team_id=team_id)


def installed(conn: Connection, client_id: str) -> int:
    """How many workspaces have Plaudit installed (with a bot token)."""
    return slack_oauth.installed_workspaces(conn=conn, client_id=client_id)


class States(AsyncOAuthStateStore):
    """Install-link states in `slack_oauth_states`: issued by slack_sdk's store, consumed
    with one DELETE, so a state is good for one callback only, even when two race."""

    def __init__(self, engine: Engine, expiration_seconds: int) -> None:
        self._store = SQLAlchemyOAuthStateStore(
            expiration_seconds=expiration_seconds, engine=engine, logger=log
        )
        self._engine = engine

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self._issue)

    def _issue(self) -> str:
        self._purge()
        return str(self._store.issue())

    async def async_consume(self, state: str) -> bool:
        return await asyncio.to_thread(self._consume, state)

    def _consume(self, state: str) -> bool:
        now = _naive_utc()
        with self._engine.begin() as conn:
            return slack_oauth.consume_state(conn=conn, state=state, now=now)

    def _purge(self) -> None:
        # Links nobody followed: an hour after they expired they are only clutter.
        with self._engine.begin() as conn:
            slack_oauth.purge_states(conn=conn, expired_before=_naive_utc() - timedelta(hours=1))


def _naive_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def oauth_settings(
    settings: Settings, installations: Installations, states: States
) -> AsyncOAuthSettings:
    """Bolt's OAuth flow: `/slack/install` redirects to Slack's consent page at once, and
    Slack sends the installer back to `<PLAUDIT_PUBLIC_URL>/slack/oauth_redirect`."""
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=settings.slack_scopes.split(","),
        redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH,
        install_page_rendering_enabled=False,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=installations,
        installation_store_bot_only=True,
        state_store=states,
        state_expiration_seconds=settings.slack_state_expiration,
        callback_options=AsyncCallbackOptions(success=_installed, failure=_not_installed),
        logger=log,
    )


_REASONS = {
    "access_denied": "The installation was cancelled in Slack, so nothing was changed.",
    "invalid_browser": "This page was opened without the install link it belongs to "
    "(or in another browser).",
    "invalid_state": "This install link has expired or was already used.",
    "missing_code": "Slack did not send the confirmation Plaudit needs.",
    "invalid_code": "Slack did not confirm the installation (the code was refused).",
    "storage_error": "Plaudit could not save the installation.",
}


async def _installed(args: AsyncSuccessArgs) -> BoltResponse:
    installation = args.installation
    team = installation.team_name or installation.team_id or "your workspace"
    log.info(
        "Plaudit installed in Slack workspace %s (%s)", installation.team_id, installation.team_name
    )
    return _page(
        200,
        "Plaudit is installed",
        f"Plaudit is now installed in <strong>{html.escape(team)}</strong>.",
        "Type <code>/kudos help</code> in any channel to get started. You can close this page.",
    )


async def _not_installed(args: AsyncFailureArgs) -> BoltResponse:
    if isinstance(args.error, Refused):
        log.warning("Slack install refused: %s", args.error)
        return _page(
            403,
            "Plaudit was not installed",
            "This Plaudit serves other Slack workspaces only, so it was not installed here.",
            "Ask the people who run Plaudit for your organisation if you think it should be.",
        )
    reason = _REASONS.get(args.reason, "Something went wrong during the installation.")
    log.warning("Slack install failed: %s", args.reason)
    status = args.suggested_status_code
    # A cancelled consent is a normal answer; anything else is the request's fault (4xx) or
    # ours (5xx), so the status says which.
    if args.reason not in ("access_denied",) and status < 400:
        status = 400
    return _page(
        status,
        "Plaudit was not installed",
        html.escape(reason),
        f'Please <a href="{INSTALL_PATH}">start the installation again</a>.',
    )


def _page(status: int, title: str, message: str, hint: str) -> BoltResponse:
    body = (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;"
        "padding:0 1rem;line-height:1.5;color:#1d1c1d}h1{color:#2c2d6e}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{message}</p><p>{hint}</p></body></html>"
    )
    return BoltResponse(
        status=status,
        body=body,
        headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
    )

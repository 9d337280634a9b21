"""How the Teams adapter authenticates: Bot Framework settings for botbuilder's
`ConfigurationBotFrameworkAuthentication`, and client-credentials tokens from MSAL for
authorities other than the public Microsoft login (sovereign clouds, private test rigs),
fetched in a worker thread, never on the event loop."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import requests
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import (
    AppCredentials,
    MicrosoftAppCredentials,
    PasswordServiceClientCredentialFactory,
)
from msrest.authentication import Authentication

from bot.settings import Settings
from bot.teams.sdk.tokens import (
    PUBLIC_EMULATOR_OPENID,
    PUBLIC_ISSUER,
    PUBLIC_LOGIN,
    PUBLIC_OPENID,
    SCOPE,
    client,
)

log = logging.getLogger("plaudit.teams")


@dataclass
class BotConfig:
    """The attribute names botbuilder's configuration objects are read by."""

    APP_ID: str | None
    APP_PASSWORD: str | None
    APP_TENANTID: str | None
    APP_TYPE: str


def authentication(settings: Settings) -> ConfigurationBotFrameworkAuthentication:
    """Bot Framework authentication for these settings: inbound JWTs are checked by the SDK;
    without an app id (emulator mode) nothing is checked and nothing is signed."""
    password = (
        settings.microsoft_app_password.get_secret_value()
        if settings.microsoft_app_password
        else None
    )
    if settings.teams_unauthenticated:
        config = BotConfig(None, None, None, "MultiTenant")
        return ConfigurationBotFrameworkAuthentication(config)
    config = BotConfig(
        settings.microsoft_app_id,
        password,
        settings.microsoft_app_tenant_id,
        settings.microsoft_app_type,
    )
    custom = (
        settings.microsoft_openid_metadata_url
        or settings.microsoft_token_issuer
        or settings.microsoft_login_url
    )
    if not custom:
        return ConfigurationBotFrameworkAuthentication(config)
    tenant = settings.microsoft_app_tenant_id or "botframework.com"
    login = (settings.microsoft_login_url or f"{PUBLIC_LOGIN}/{tenant}").rstrip("/")
    # botbuilder reads these as attributes when any of them is set; then all must be.
    config_with_urls = _Parameterized(
        **vars(config),
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=settings.microsoft_openid_metadata_url
        or PUBLIC_OPENID,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=settings.microsoft_token_issuer or PUBLIC_ISSUER,
        TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL=PUBLIC_EMULATOR_OPENID,
        TO_CHANNEL_FROM_BOT_LOGIN_URL=login,
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=SCOPE,
        VALIDATE_AUTHORITY=True,
    )
    factory = None
    if settings.microsoft_login_url and settings.microsoft_app_type != "UserAssignedMSI":
        factory = TokenEndpointCredentialsFactory(
            settings.microsoft_app_id, password, settings.microsoft_app_tenant_id
        )
    return ConfigurationBotFrameworkAuthentication(config_with_urls, credentials_factory=factory)


class _Parameterized:
    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


class TokenEndpointCredentialsFactory(PasswordServiceClientCredentialFactory):  # type: ignore[misc]
    """App id and secret exchanged for a token at `{authority}/oauth2/v2.0/token` (the OAuth
    2.0 client-credentials grant, through MSAL), for any authority the settings name."""

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Authentication:
        if await self.is_authentication_disabled():
            return MicrosoftAppCredentials.empty()  # type: ignore[no-any-return]
        if not await self.is_valid_app_id(app_id):
            raise PermissionError("the token's app id is not this bot's")
        credentials = TokenEndpointCredentials(
            app_id, self.password or "", login_endpoint, oauth_scope
        )
        # botbuilder asks for the token synchronously, on the event loop: have it ready.
        await asyncio.to_thread(credentials.fetch)
        return credentials


class TokenEndpointCredentials(AppCredentials):  # type: ignore[misc]
    """A bearer token for the Bot Connector. MSAL keeps it in one cache per authority and
    app, shared by every connector client of the process, until shortly before it expires.
    `fetch` blocks (it may ask the authority) and runs in a worker thread;
    `get_access_token`, which botbuilder calls on the event loop, returns what it fetched."""

    def __init__(self, app_id: str, secret: str, authority: str, scope: str | None) -> None:
        super().__init__(app_id=app_id, oauth_scope=scope or SCOPE)
        self.oauth_endpoint = authority.rstrip("/")
        self._secret = secret
        self._token: tuple[str, float] | None = None

    def fetch(self, force_refresh: bool = False) -> str:
        scope = self.oauth_scope
        scope = scope if scope.endswith("/.default") else f"{scope}/.default"
        found = client(self.oauth_endpoint, str(self.microsoft_app_id), self._secret)
        try:
            with found.lock:  # this app's fetches only, in worker threads
                if force_refresh:
                    found.app.remove_tokens_for_client()
                result: dict[str, Any] = found.app.acquire_token_for_client(scopes=[scope])
        except (requests.RequestException, ValueError) as exc:
            raise PermissionError(f"token service unreachable: {type(exc).__name__}") from exc
        if "access_token" not in result:
            raise PermissionError(f"token request refused: {result.get('error') or 'no token'}")
        token = str(result["access_token"])
        lifetime = max(int(result.get("expires_in", 3600)) - 300, 30)
        self._token = (token, time.monotonic() + lifetime)
        return token

    def get_access_token(self, force_refresh: bool = False) -> str:
        if self._token and not force_refresh and time.monotonic() < self._token[1]:
            return self._token[0]
        return self.fetch(force_refresh)  # not fetched ahead, or stale: a rare blocking call

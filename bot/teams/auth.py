"""How the Teams adapter authenticates: Bot Framework settings for botbuilder's
`ConfigurationBotFrameworkAuthentication`, and a client-credentials token source for
authorities other than the public Microsoft login (sovereign clouds, private test rigs)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import ClassVar

import requests
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import (
    AppCredentials,
    MicrosoftAppCredentials,
    PasswordServiceClientCredentialFactory,
)
from msrest.authentication import Authentication

from bot.settings import Settings

log = logging.getLogger("plaudit.teams")
PUBLIC_ISSUER = "https://api.botframework.com"
PUBLIC_OPENID = "https://login.botframework.com/v1/.well-known/openidconfiguration"
PUBLIC_EMULATOR_OPENID = (
    "https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration"
)
PUBLIC_LOGIN = "https://login.microsoftonline.com"
SCOPE = "https://api.botframework.com"


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
    """App id and secret exchanged for a token at `{authority}/oauth2/v2.0/token`
    (the OAuth 2.0 client-credentials grant), for any authority the settings name."""

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Authentication:
        if await self.is_authentication_disabled():
            return MicrosoftAppCredentials.empty()  # type: ignore[no-any-return]
        if not await self.is_valid_app_id(app_id):
            raise PermissionError("the token's app id is not this bot's")
        return TokenEndpointCredentials(app_id, self.password or "", login_endpoint, oauth_scope)


class TokenEndpointCredentials(AppCredentials):  # type: ignore[misc]
    """A bearer token for the Bot Connector, shared by every connector client of the process
    and cached until five minutes before it expires."""

    _lock = threading.Lock()
    _tokens: ClassVar[dict[tuple[str, str, str], tuple[str, float]]] = {}

    def __init__(self, app_id: str, secret: str, authority: str, scope: str | None) -> None:
        super().__init__(app_id=app_id, oauth_scope=scope or SCOPE)
        self.oauth_endpoint = authority.rstrip("/")
        self._secret = secret

    def get_access_token(self, force_refresh: bool = False) -> str:
        scope = self.oauth_scope
        scope = scope if scope.endswith("/.default") else f"{scope}/.default"
        key = (self.oauth_endpoint, str(self.microsoft_app_id), scope)
        with self._lock:
            cached = self._tokens.get(key)
            if cached and not force_refresh and time.monotonic() < cached[1]:
                return cached[0]
            response = requests.post(
                f"{self.oauth_endpoint}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.microsoft_app_id,
                    "client_secret": self._secret,
                    "scope": scope,
                },
                timeout=10,
            )
            try:
                body = response.json()
            except ValueError:
                body = {}
            if response.status_code != 200 or "access_token" not in body:
                raise PermissionError(
                    f"token request refused: {body.get('error') or response.status_code}"
                )
            token = str(body["access_token"])
            lifetime = max(int(body.get("expires_in", 3600)) - 300, 30)
            self._tokens[key] = (token, time.monotonic() + lifetime)
            return token

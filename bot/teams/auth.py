"""How the Teams adapter authenticates: Bot Framework settings for botbuilder's
`ConfigurationBotFrameworkAuthentication`, and client-credentials tokens from MSAL for
authorities other than the public Microsoft login (sovereign clouds, private test rigs),
fetched in a worker thread, never on the event loop."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msal  # type: ignore[import-untyped]
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
TIMEOUT = 10


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
        client = _client(self.oauth_endpoint, str(self.microsoft_app_id), self._secret)
        try:
            with client.lock:  # this app's fetches only, in worker threads
                if force_refresh:
                    client.app.remove_tokens_for_client()
                result: dict[str, Any] = client.app.acquire_token_for_client(scopes=[scope])
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


@dataclass
class _Client:
    app: Any  # msal.ConfidentialClientApplication, with its in-memory token cache
    lock: threading.Lock  # one token request at a time for this app


_clients: dict[tuple[str, str, str], _Client] = {}
_clients_guard = threading.Lock()  # guards the dict only; never held across a request


def _client(authority: str, app_id: str, secret: str) -> _Client:
    """The MSAL application for this authority and app, made once (MSAL reads the
    authority's discovery document as it is made, so outside the guard)."""
    key = (authority, app_id, hashlib.sha256(secret.encode()).hexdigest())
    with _clients_guard:
        found = _clients.get(key)
    if found is not None:
        return found
    made = _Client(_application(authority, app_id, secret), threading.Lock())
    with _clients_guard:
        return _clients.setdefault(key, made)


def _application(authority: str, app_id: str, secret: str) -> Any:
    parts = urlsplit(authority)
    http_client: _PlainLoopback | None = None
    if parts.scheme == "http":
        if not _loopback(parts.hostname):
            raise PermissionError("a token authority over plain HTTP must be on this machine")
        http_client = _PlainLoopback(f"http://{parts.netloc}")
        authority = "https://" + authority.removeprefix("http://")
    try:
        return msal.ConfidentialClientApplication(
            app_id,
            client_credential=secret,
            authority=authority,
            http_client=http_client,
            timeout=TIMEOUT,
            # The operator named this authority: MSAL need not ask Microsoft about it.
            instance_discovery=False,
        )
    except (requests.RequestException, ValueError) as exc:
        raise PermissionError(f"token authority {authority} unusable: {exc}") from exc


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


@dataclass
class _Answer:
    status_code: int
    text: str
    headers: dict[str, str]

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"{self.status_code} from the token authority")


class _PlainLoopback:
    """MSAL's HTTP client for an authority on plain HTTP on this machine (a local rig). MSAL
    takes only https:// authorities: it is given the https:// form of the address, its
    requests go out over http://, and the addresses in the answers are turned back."""

    def __init__(self, origin: str) -> None:
        self._plain = origin
        self._secure = "https://" + origin.removeprefix("http://")
        self._session = requests.Session()

    def _answer(self, response: requests.Response) -> _Answer:
        text = response.text.replace(self._plain, self._secure)
        return _Answer(response.status_code, text, dict(response.headers))

    def _url(self, url: str) -> str:
        if not url.startswith(self._secure):
            raise PermissionError(f"MSAL asked for {url}, outside the configured authority")
        return self._plain + url.removeprefix(self._secure)

    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> _Answer:
        response = self._session.get(
            self._url(url), params=params, headers=headers, timeout=TIMEOUT
        )
        return self._answer(response)

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **_: Any
    ) -> _Answer:
        response = self._session.post(
            self._url(url), params=params, data=data, headers=headers, timeout=TIMEOUT
        )
        return self._answer(response)

    def close(self) -> None:
        self._session.close()

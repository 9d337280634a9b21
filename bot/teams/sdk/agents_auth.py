"""How the Agents SDK transport authenticates, in both directions.

Inbound: the SDK's `JwtTokenValidator` checks each channel token (signature, audience,
issuer allow-list, tenant binding), with two additions. When the settings name an OpenID
metadata document (sovereign clouds, private rigs) the signing keys come from the
`jwks_uri` it names rather than from the SDK's built-in public addresses; and the token's
`serviceurl` claim must be the activity's `serviceUrl`, which the SDK does not require.

Outbound: the SDK's MSAL token provider (`MsalAuth`) behind a connection manager. For an
authority the settings name (`MICROSOFT_LOGIN_URL`) its confidential client comes from
`bot.teams.sdk.tokens`, which can reach a plain-HTTP authority on this machine; MSAL's
cache keeps one token for every Connector call until it expires. In local-emulator mode
(`teams_unauthenticated`) nothing is checked and nothing is signed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import requests
from jwt import PyJWK, PyJWKClientConnectionError, PyJWKClientError
from microsoft_agents.authentication.msal import MsalAuth
from microsoft_agents.hosting.core import (
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectionManager,
    Connections,
    JwtTokenValidator,
    RestChannelServiceClientFactory,
    TurnContext,
)
from microsoft_agents.hosting.core.authorization import AuthTypes
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import (
    _JwkClientManager,
)
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from microsoft_agents.hosting.core.connector.client import UserTokenClient

from bot.settings import Settings
from bot.teams.sdk import Refused, Unreachable
from bot.teams.sdk.tokens import PUBLIC_ISSUER, TIMEOUT, application

log = logging.getLogger("plaudit.teams")

SERVICE_CONNECTION = "SERVICE_CONNECTION"  # the connection name the SDK looks up
# The metadata document's `jwks_uri` is read again daily, and, when a token names a key
# that is not published there, at most this often (seconds).
METADATA_LIFETIME = 24 * 3600.0
METADATA_COOLDOWN = 30.0


def configuration(settings: Settings) -> AgentAuthConfiguration:
    """The SDK's configuration of this bot's one connection: its app id, tenant and
    credential for tokens, and the issuers its inbound tokens may come from (the configured
    or public Bot Framework issuer, plus the SDK's defaults for the tenant)."""
    msi = settings.microsoft_app_type == "UserAssignedMSI"
    secret = settings.microsoft_app_password
    # As botbuilder does: a multi-tenant app takes its tokens from the Bot Framework tenant.
    tenant = (
        settings.microsoft_app_tenant_id if settings.microsoft_app_type != "MultiTenant" else None
    )

    def made(issuers: list[str] | None) -> AgentAuthConfiguration:
        return AgentAuthConfiguration(
            auth_type=AuthTypes.user_managed_identity if msi else AuthTypes.client_secret,
            client_id=settings.microsoft_app_id,
            tenant_id=tenant or "botframework.com",
            client_secret=None if msi or secret is None else secret.get_secret_value(),
            authority=settings.microsoft_login_url or None,
            issuers=issuers,
            validate_issuer=True,
        )

    defaults = made(None).ISSUERS
    return made([settings.microsoft_token_issuer or PUBLIC_ISSUER, *defaults])


def client_factory(settings: Settings) -> ClientFactory:
    """The factory of Connector clients for these settings: signed with this bot's tokens,
    or, in local-emulator mode, without any."""
    if settings.teams_unauthenticated:
        anonymous = ConnectionManager(
            provider_factory=lambda _: AnonymousTokenProvider(),
            connections_configurations={
                SERVICE_CONNECTION: AgentAuthConfiguration(anonymous_allowed=True)
            },
        )
        return ClientFactory(anonymous, anonymous=True)
    connections = ConnectionManager(
        provider_factory=ConnectorTokens,
        connections_configurations={SERVICE_CONNECTION: configuration(settings)},
    )
    return ClientFactory(connections, anonymous=False)


class ConnectorTokens(MsalAuth):
    """The SDK's MSAL token provider, with its MSAL client made off the event loop (MSAL
    reads the authority's discovery document as the client is made); for an authority the
    settings name, a client from `bot.teams.sdk.tokens`; and any failure to get a token
    raised as `Unreachable`. The public cloud and managed identities keep the SDK's own
    clients."""

    def __init__(self, configuration: AgentAuthConfiguration) -> None:
        super().__init__(configuration)
        self._making = threading.Lock()

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        try:
            await asyncio.to_thread(self._make_client)
            return await super().get_access_token(resource_url, scopes, force_refresh)
        except (ValueError, OSError) as exc:  # MSAL, requests and tokens raise these
            raise Unreachable(f"no token for the Bot Connector: {exc}") from exc

    def _make_client(self) -> None:
        with self._making:  # the SDK's client map is not guarded: one maker at a time
            self._get_client()

    def _create_client_application(self, tenant_id: str | None = None) -> Any:
        config = self.configuration
        if config.AUTHORITY and AuthTypes.client_secret == config.AUTH_TYPE:
            # The operator's authority as given (the SDK would put the tenant into it).
            return application(config.AUTHORITY, config.CLIENT_ID or "", config.CLIENT_SECRET or "")
        return super()._create_client_application(tenant_id)


_made: ContextVar[list[ConnectorClientBase] | None] = ContextVar("made", default=None)


class ClientFactory(RestChannelServiceClientFactory):
    """The SDK's factory of Connector clients, with two differences. In local-emulator mode
    every client is made without a token, whatever the identity (the SDK would sign the
    proactive turns, whose identity it makes itself). And the clients made inside
    `closing_clients()` are closed when it ends: the SDK closes a client once its turn has
    run, so one made for a CreateConversation that failed would be left open."""

    def __init__(self, connections: Connections, *, anonymous: bool) -> None:
        super().__init__(connections)
        self._anonymous = anonymous

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        client = await super().create_connector_client(
            context,
            claims_identity,
            service_url,
            audience,
            scopes,
            use_anonymous=use_anonymous or self._anonymous,
        )
        made = _made.get()
        if made is not None:
            made.append(client)
        return client

    async def create_user_token_client(
        self, context: TurnContext, claims_identity: ClaimsIdentity, use_anonymous: bool = False
    ) -> UserTokenClient:
        return await super().create_user_token_client(
            context, claims_identity, use_anonymous or self._anonymous
        )


@asynccontextmanager
async def closing_clients() -> AsyncIterator[None]:
    """Closes, on the way out, every Connector client made inside (closing is idempotent)."""
    made: list[ConnectorClientBase] = []
    token = _made.set(made)
    try:
        yield
    finally:
        _made.reset(token)
        for client in made:
            await client.close()


class Inbound:
    """Whether a delivered activity's token is one this bot accepts."""

    def __init__(self, settings: Settings) -> None:
        self._validator: JwtTokenValidator | None = None
        if not settings.teams_unauthenticated:
            self._validator = ChannelTokenValidator(
                configuration(settings), settings.microsoft_openid_metadata_url
            )

    async def identity(self, data: dict[str, Any], authorization: str | None) -> ClaimsIdentity:
        """The token's claims; raises `Refused` (and logs why at INFO, never the token)."""
        if self._validator is None:
            return ClaimsIdentity()  # local-emulator mode: anonymous, whatever was sent
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _refused("no bearer token")
        try:
            identity = await self._validator.validate_token(token.strip())
        except Exception as exc:  # PyJWT, the key client and the SDK's checks: all refuse
            raise _refused(f"{type(exc).__name__}: {exc}") from exc
        claimed = str(identity.get_claim_value(AuthenticationConstants.SERVICE_URL_CLAIM) or "")
        actual = str(data.get("serviceUrl") or "")
        if not claimed or claimed.rstrip("/") != actual.rstrip("/"):
            raise _refused("the token's serviceurl claim is not the activity's serviceUrl")
        return identity


def _refused(reason: str) -> Refused:
    log.info("refused a Teams activity: %s", reason)
    return Refused(reason)


class ChannelTokenValidator(JwtTokenValidator):
    """The SDK's validator; when the settings name an OpenID metadata document, its signing
    keys come from the `jwks_uri` that document names."""

    def __init__(self, configuration: AgentAuthConfiguration, metadata_url: str | None) -> None:
        super().__init__(configuration)
        if metadata_url:
            self._jwk_client_manager = MetadataKeys(metadata_url)


class MetadataKeys(_JwkClientManager):
    """The SDK's signing-key client (a PyJWKClient per JWKS address: the key set cached for
    five minutes, and fetched again, at most every 30 seconds, when a token names an unknown
    key), given the JWKS address the configured metadata document names instead of the one
    the SDK built from public addresses. The document is read in a worker thread, kept, and
    read again when a token names a key its key set lacks."""

    def __init__(self, metadata_url: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated
        self._metadata_url = metadata_url
        self._reading = threading.Lock()
        self._read: tuple[str, float] | None = None  # (jwks_uri, when it was read)

    async def get_signing_key(self, jwks_uri: str, header: dict[str, Any]) -> PyJWK:
        del jwks_uri  # the SDK's choice, from its built-in public addresses
        known = await asyncio.to_thread(self._jwks_uri, False)
        try:
            return await super().get_signing_key(known, header)
        except PyJWKClientConnectionError:
            raise
        except PyJWKClientError:
            # Not published there: the document may name a new key set by now.
            fresh = await asyncio.to_thread(self._jwks_uri, True)
            if fresh == known:
                raise
            return await super().get_signing_key(fresh, header)

    def _jwks_uri(self, again: bool) -> str:
        with self._reading:
            now = time.monotonic()
            if self._read is not None:
                uri, read_at = self._read
                if now - read_at < (METADATA_COOLDOWN if again else METADATA_LIFETIME):
                    return uri
            uri = _jwks_uri_of(self._metadata_url)
            self._read = (uri, now)
            return uri


def _jwks_uri_of(metadata_url: str) -> str:
    response = requests.get(metadata_url, timeout=TIMEOUT)
    response.raise_for_status()
    document = response.json()
    uri = document.get("jwks_uri") if isinstance(document, dict) else None
    if not isinstance(uri, str) or urlsplit(uri).scheme not in ("http", "https"):
        raise ValueError(f"the OpenID metadata at {metadata_url} names no usable jwks_uri")
    return uri

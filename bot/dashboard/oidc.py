"""OpenID Connect sign-in with Authlib: discovery, the authorization request with PKCE, state
and nonce, the code exchange (client_secret_basic, client_secret_post or private_key_jwt, as
the settings and the provider's discovery document allow) and ID token validation (signed
with an algorithm the provider announces; iss, aud, exp, iat, sub, nonce, azp)."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]
from authlib.oauth2.rfc7523 import PrivateKeyJWT  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import Key, KeySet, import_key
from joserfc.jws import JWSRegistry

from bot.dashboard import oidc_auth
from bot.dashboard.config import OidcConfig
from bot.dashboard.oidc_auth import ClientAuth

CACHE_SECONDS = 3600
TIMEOUT = 10
LEEWAY = 60
# Signatures made with the provider's private key only: never `none`, never a shared secret.
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
     "Ed25519"}
)  # fmt: skip


class OidcError(Exception):
    """The provider could not be used, or its answer was not acceptable."""


class TokenRejected(OidcError):
    """The ID token failed validation."""


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and what to remember until it comes back."""

    url: str
    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class Provider:
    """What sign-in uses of a provider's discovery document, checked against the settings."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]  # what ID tokens may be signed with
    auth_method: str  # how the client proves itself at the token endpoint
    assertion_alg: str | None = None  # private_key_jwt: what the assertion is signed with


def _strings(value: object, default: list[str]) -> list[str]:
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OidcError("the discovery document holds a list that is not a list of names")
    return value


def _usable(jwk: object) -> Key | None:
    """A signing key from a JWKS entry; None for encryption keys and kinds joserfc lacks."""
    if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
        return None
    try:
        return import_key(jwk)
    except (JoseError, ValueError, KeyError, TypeError):
        return None


class OidcClient:
    """One provider; its discovery document and keys are cached for an hour. `auth` (by
    default from the environment, `oidc_auth`) says how to authenticate at the token
    endpoint."""

    def __init__(
        self,
        config: OidcConfig,
        session: requests.Session | None = None,
        auth: ClientAuth | None = None,
    ) -> None:
        self.config = config
        self.auth = auth if auth is not None else oidc_auth.from_environment()
        self._http = session or requests.Session()
        self._provider: tuple[float, Provider] | None = None
        self._keys: tuple[float, KeySet] | None = None
        self._lock = asyncio.Lock()

    # -- provider documents --------------------------------------------------------------
    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self._http.get(url, timeout=TIMEOUT, allow_redirects=False)
            response.raise_for_status()
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise OidcError(f"could not read {url}: {type(exc).__name__}") from exc
        if not isinstance(data, dict):
            raise OidcError(f"{url} did not answer with a JSON object")
        return data

    async def provider(self) -> Provider:
        async with self._lock:
            if self._provider and self._provider[0] > time.monotonic():
                return self._provider[1]
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            provider = self._read(await asyncio.to_thread(self._get_json, url))
            self._provider = (time.monotonic() + CACHE_SECONDS, provider)
            return provider

    def _read(self, data: dict[str, Any]) -> Provider:
        if data.get("issuer") != self.config.issuer:
            raise OidcError("the discovery document names another issuer")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(key), str):
                raise OidcError(f"the discovery document has no {key}")
        # OpenID Connect Discovery: RS256 when not said; RFC 8414: client_secret_basic.
        announced = _strings(data.get("id_token_signing_alg_values_supported"), ["RS256"])
        algorithms = tuple(a for a in announced if a in ASYMMETRIC)
        if not algorithms:
            raise OidcError(f"the provider signs ID tokens only with {', '.join(announced)}")
        offered = _strings(
            data.get("token_endpoint_auth_methods_supported"), ["client_secret_basic"]
        )
        method = self._method(offered)
        assertion_alg = None
        if method == "private_key_jwt":
            signing = data.get("token_endpoint_auth_signing_alg_values_supported")
            assertion_alg = self._assertion_alg(_strings(signing, []))
        return Provider(
            str(data["authorization_endpoint"]),
            str(data["token_endpoint"]),
            str(data["jwks_uri"]),
            algorithms,
            method,
            assertion_alg,
        )

    def _method(self, offered: list[str]) -> str:
        wanted = self.auth.method
        if wanted is not None:
            if wanted not in offered:
                raise OidcError(
                    f"the provider does not accept {wanted} at its token endpoint "
                    f"(it accepts {', '.join(offered) or 'nothing'})"
                )
            return wanted
        preference: list[str] = ["private_key_jwt"] if self.auth.key is not None else []
        if self.config.client_secret:
            preference += ["client_secret_basic", "client_secret_post"]
        for method in preference:
            if method in offered:
                return method
        raise OidcError(
            f"the provider accepts {', '.join(offered) or 'nothing'} at its token endpoint, "
            "none of which these settings can do"
        )

    def _assertion_alg(self, offered: list[str]) -> str:
        for alg in self.auth.algorithms:
            if not offered or alg in offered:
                return alg
        raise OidcError("the provider accepts no algorithm this client's key can sign with")

    async def _key_set(self, provider: Provider, *, refresh: bool) -> KeySet:
        async with self._lock:
            if self._keys and self._keys[0] > time.monotonic() and not refresh:
                return self._keys[1]
            data = await asyncio.to_thread(self._get_json, provider.jwks_uri)
            entries = data.get("keys")
            keys = [k for k in map(_usable, entries if isinstance(entries, list) else []) if k]
            if not keys:
                raise OidcError("the provider's key set has no usable key")
            key_set = KeySet(keys)
            self._keys = (time.monotonic() + CACHE_SECONDS, key_set)
            return key_set

    # -- the flow ------------------------------------------------------------------------
    def _oauth(self, provider: Provider) -> Any:
        """An Authlib session that authenticates at the token endpoint as `provider` says."""
        private = provider.auth_method == "private_key_jwt"
        oauth = OAuth2Session(
            self.config.client_id,
            self.auth.key if private else self.config.client_secret,
            token_endpoint_auth_method=provider.auth_method,
            scope=" ".join(self.config.scopes),
            redirect_uri=self.config.redirect_uri,
            code_challenge_method="S256",
            default_timeout=TIMEOUT,
        )
        if private:
            oauth.register_client_auth_method(
                PrivateKeyJWT(
                    provider.token_endpoint,
                    headers=dict(self.auth.headers),
                    alg=provider.assertion_alg,
                )
            )
        return oauth

    async def start(self) -> Started:
        provider = await self.provider()
        nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        with self._oauth(provider) as oauth:
            url, state = oauth.create_authorization_url(
                provider.authorization_endpoint,
                state=secrets.token_urlsafe(24),
                code_verifier=verifier,
                nonce=nonce,
            )
        return Started(str(url), str(state), nonce, verifier)

    def _exchange(self, provider: Provider, code: str, verifier: str) -> dict[str, Any]:
        extra = {}
        if provider.auth_method == "private_key_jwt":  # RFC 7523 makes it optional; some want it
            extra["client_id"] = self.config.client_id
        with self._oauth(provider) as oauth:
            try:
                tokens = oauth.fetch_token(
                    provider.token_endpoint,
                    code=code,
                    code_verifier=verifier,
                    allow_redirects=False,
                    **extra,
                )
            except OAuthError as exc:
                raise OidcError(f"the token endpoint refused: {exc.error}") from exc
            except (requests.RequestException, ValueError) as exc:
                raise OidcError(f"token request failed: {type(exc).__name__}") from exc
        if not isinstance(tokens, dict) or not isinstance(tokens.get("id_token"), str):
            raise OidcError("the token endpoint sent no ID token")
        return dict(tokens)

    async def finish(self, code: str, *, verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code and return the validated ID token's claims."""
        provider = await self.provider()
        tokens = await asyncio.to_thread(self._exchange, provider, code, verifier)
        access = tokens.get("access_token")
        return await self.validate(
            str(tokens["id_token"]),
            nonce=nonce,
            access_token=access if isinstance(access, str) else None,
        )

    async def validate(
        self, id_token: str, *, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        provider = await self.provider()
        registry = JWSRegistry(algorithms=list(provider.algorithms), strict_check_header=False)
        token: jwt.Token | None = None
        for refresh in (False, True):  # an unknown kid may be a rotated key: fetch once more
            keys = await self._key_set(provider, refresh=refresh)
            try:
                token = jwt.decode(id_token, keys, registry=registry)
                break
            except InvalidKeyIdError:
                continue
            except (JoseError, ValueError, TypeError) as exc:
                raise TokenRejected(f"the ID token is not valid: {type(exc).__name__}") from exc
        if token is None:
            raise TokenRejected("no provider key matches the token")
        if not nonce:
            raise TokenRejected("this sign-in has no nonce")
        params: dict[str, Any] = {"nonce": nonce, "client_id": self.config.client_id}
        if access_token:
            params["access_token"] = access_token  # checks at_hash when the token has one
        claims = CodeIDToken(
            token.claims,
            token.header,
            {
                "iss": {"essential": True, "value": self.config.issuer},
                "aud": {"essential": True, "value": self.config.client_id},
            },
            params,
        )
        try:
            claims.validate(leeway=LEEWAY)
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenRejected(f"the ID token is not valid: {type(exc).__name__}") from exc
        return dict(claims)

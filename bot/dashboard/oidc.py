"""OpenID Connect sign-in: discovery, the authorization request with PKCE, state and nonce,
the code exchange (client_secret_post) and ID token validation (RS256, iss, aud, exp, nonce)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
import requests

from bot.dashboard.config import OidcConfig

log = logging.getLogger("plaudit.dashboard.oidc")
CACHE_SECONDS = 3600
TIMEOUT = 10


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


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    """One provider; its discovery document and keys are cached for an hour."""

    def __init__(self, config: OidcConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self._http = session or requests.Session()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, jwt.PyJWKSet] | None = None
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

    async def metadata(self) -> dict[str, Any]:
        async with self._lock:
            if self._metadata and self._metadata[0] > time.monotonic():
                return self._metadata[1]
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            data = await asyncio.to_thread(self._get_json, url)
            if data.get("issuer") != self.config.issuer:
                raise OidcError("the discovery document names another issuer")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(data.get(key), str):
                    raise OidcError(f"the discovery document has no {key}")
            self._metadata = (time.monotonic() + CACHE_SECONDS, data)
            return data

    async def _key_set(self, *, refresh: bool) -> jwt.PyJWKSet:
        meta = await self.metadata()
        async with self._lock:
            if self._keys and self._keys[0] > time.monotonic() and not refresh:
                return self._keys[1]
            data = await asyncio.to_thread(self._get_json, str(meta["jwks_uri"]))
            try:
                keys = jwt.PyJWKSet.from_dict(data)
            except jwt.PyJWTError as exc:
                raise OidcError("the provider's key set has no usable key") from exc
            self._keys = (time.monotonic() + CACHE_SECONDS, keys)
            return keys

    async def _signing_key(self, kid: str | None) -> jwt.PyJWK:
        for refresh in (False, True):  # an unknown kid may be a rotated key: fetch once more
            keys = await self._key_set(refresh=refresh)
            if kid is None and len(keys.keys) == 1:
                return keys.keys[0]
            for key in keys.keys:
                if kid is not None and key.key_id == kid:
                    return key
        raise TokenRejected("no provider key matches the token")

    # -- the flow ------------------------------------------------------------------------
    async def start(self) -> Started:
        meta = await self.metadata()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": self.config.redirect_uri,
                "scope": " ".join(self.config.scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": _challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        endpoint = str(meta["authorization_endpoint"])
        joiner = "&" if "?" in endpoint else "?"
        return Started(endpoint + joiner + query, state, nonce, verifier)

    def _exchange(self, endpoint: str, code: str, verifier: str) -> dict[str, Any]:
        try:
            response = self._http.post(
                endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.config.redirect_uri,
                    "client_id": self.config.client_id,
                    "client_secret": self.config.client_secret,
                    "code_verifier": verifier,
                },
                headers={"Accept": "application/json"},
                timeout=TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise OidcError(f"token request failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise OidcError(f"the token endpoint answered {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise OidcError("the token endpoint did not answer with JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("id_token"), str):
            raise OidcError("the token endpoint sent no ID token")
        return data

    async def finish(self, code: str, *, verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code and return the validated ID token's claims."""
        meta = await self.metadata()
        tokens = await asyncio.to_thread(
            self._exchange, str(meta["token_endpoint"]), code, verifier
        )
        return await self.validate(str(tokens["id_token"]), nonce=nonce)

    async def validate(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise TokenRejected("the ID token is malformed") from exc
        if header.get("alg") != "RS256":
            raise TokenRejected("the ID token is not signed with RS256")
        key = await self._signing_key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key.key,
                algorithms=["RS256"],
                audience=self.config.client_id,
                issuer=self.config.issuer,
                leeway=60,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"the ID token is not valid: {type(exc).__name__}") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise TokenRejected("the ID token was issued to another party")
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise TokenRejected("the ID token's nonce does not match this sign-in")
        return claims

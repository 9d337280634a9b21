"""A fake OpenID Connect provider on loopback: discovery, /authorize that signs in a preset
email at once, /token (client_secret_post, PKCE S256) issuing RS256 ID tokens, and /jwks."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.fakes import loopback


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    email: str | None


@dataclass
class FakeOidc:
    """Answers like an OIDC provider. Knobs change the next ID tokens it issues."""

    client_id: str = "plaudit-dashboard"
    client_secret: str = "fake-client-secret-0123456789"
    email: str | None = "alice@example.com"
    email_verified: bool = True
    audience: str | None = None  # issue tokens for another client
    nonce: str | None = None  # put another nonce in the tokens
    forge: bool = False  # sign with a key that is not in the key set
    kid: str = "fake-key-1"
    token_requests: list[dict[str, str]] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    _key: rsa.RSAPrivateKey = field(default_factory=_new_key)
    _grants: dict[str, _Grant] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    issuer: str = ""

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FakeOidc:
        self._server, _ = loopback.serve(
            lambda request: self._get(request) if request.command == "GET" else self._post(request)
        )
        self.issuer = loopback.base_url(self._server)
        return self

    def stop(self) -> None:
        loopback.stop(self._server)
        self._server = None

    def __enter__(self) -> FakeOidc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- documents ---------------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def id_token(self, grant: _Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": hashlib.sha256((grant.email or "nobody").encode()).hexdigest()[:24],
            "aud": self.audience or grant.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce if self.nonce is not None else grant.nonce,
        }
        if grant.email is not None:
            claims |= {"email": grant.email, "email_verified": self.email_verified}
        key = _new_key() if self.forge else self._key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})

    # -- HTTP ----------------------------------------------------------------------------
    def _get(self, h: BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            self._json(h, 200, self.discovery())
        elif url.path == "/jwks":
            self._json(h, 200, self.jwks())
        elif url.path == "/authorize":
            self._authorize(h, query)
        else:
            self._json(h, 404, {"error": "not_found"})

    def _authorize(self, h: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        self.authorize_requests.append(q)
        problems = [
            q.get("response_type") != "code" and "response_type",
            q.get("client_id") != self.client_id and "client_id",
            "openid" not in q.get("scope", "").split() and "scope",
            not q.get("state") and "state",
            not q.get("nonce") and "nonce",
            q.get("code_challenge_method") != "S256" and "code_challenge_method",
            not q.get("code_challenge") and "code_challenge",
            not q.get("redirect_uri") and "redirect_uri",
        ]
        bad = [p for p in problems if p]
        if bad:
            self._json(h, 400, {"error": "invalid_request", "fields": bad})
            return
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._grants[code] = _Grant(
                q["client_id"], q["redirect_uri"], q["nonce"], q["code_challenge"], self.email
            )
        location = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
        h.send_response(302)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _post(self, h: BaseHTTPRequestHandler) -> None:
        if urlparse(h.path).path != "/token":
            self._json(h, 404, {"error": "not_found"})
            return
        length = int(h.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(h.rfile.read(length).decode()).items()}
        self.token_requests.append(form)
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            self._json(h, 401, {"error": "invalid_client"})
            return
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)  # a code works once
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if (
            form.get("grant_type") != "authorization_code"
            or grant is None
            or grant.redirect_uri != form.get("redirect_uri")
            or challenge != grant.challenge
        ):
            self._json(h, 400, {"error": "invalid_grant"})
            return
        self._json(
            h,
            200,
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(grant),
            },
        )

    @staticmethod
    def _json(h: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        h.send_header("Cache-Control", "no-store")
        h.end_headers()
        h.wfile.write(raw)

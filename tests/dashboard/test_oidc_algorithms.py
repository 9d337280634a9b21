"""Dashboard sign-in against providers that sign ID tokens with ES256 or PS256 and that want
the client to authenticate with client_secret_basic or private_key_jwt: what the discovery
document announces is what is accepted, and a mismatch is refused before any browser leaves."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from bot.dashboard import oidc_auth
from bot.dashboard.config import OidcConfig
from bot.dashboard.oidc import OidcClient, OidcError, TokenRejected
from bot.dashboard.oidc_auth import ClientAuth
from tests.fakes.oidc import FakeOidc

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_jwk(key: PrivateKey) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        return dict(RSAAlgorithm.to_jwk(key.public_key(), as_dict=True))
    return dict(ECAlgorithm.to_jwk(key.public_key(), as_dict=True))


@dataclass
class Provider(FakeOidc):
    """FakeOidc that signs with `alg` and authenticates clients by `methods`; a client's
    private_key_jwt assertions are checked against `client_key`."""

    alg: str = "ES256"
    announced: list[str] | None = None  # id_token_signing_alg_values_supported
    methods: list[str] = field(default_factory=lambda: ["client_secret_basic"])
    assertion_algs: list[str] | None = None
    client_key: PrivateKey | None = None
    signing_key: PrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    assertions: list[dict[str, Any]] = field(default_factory=list)

    def discovery(self) -> dict[str, Any]:
        doc = super().discovery()
        doc["id_token_signing_alg_values_supported"] = self.announced or [self.alg]
        doc["token_endpoint_auth_methods_supported"] = self.methods
        if self.assertion_algs is not None:
            doc["token_endpoint_auth_signing_alg_values_supported"] = self.assertion_algs
        return doc

    def jwks(self) -> dict[str, Any]:
        jwk = _public_jwk(self.signing_key)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}]}

    def id_token(self, grant: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "subject-1",
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "email": grant.email,
            "email_verified": True,
        }
        return jwt.encode(claims, self.signing_key, algorithm=self.alg, headers={"kid": self.kid})

    def _client_ok(self, h: BaseHTTPRequestHandler, form: dict[str, str]) -> bool:
        if form.get("client_assertion_type") == ASSERTION_TYPE:
            return self._assertion_ok(form.get("client_assertion", ""))
        scheme, _, value = (h.headers.get("Authorization") or "").partition(" ")
        if scheme == "Basic":
            pair = base64.b64decode(value).decode()
            return "client_secret" not in form and pair == f"{self.client_id}:{self.client_secret}"
        return (
            form.get("client_id") == self.client_id
            and form.get("client_secret") == self.client_secret
        )

    def _assertion_ok(self, assertion: str) -> bool:
        if self.client_key is None:
            return False
        header = jwt.get_unverified_header(assertion)
        try:
            claims = jwt.decode(
                assertion,
                self.client_key.public_key(),
                algorithms=[header["alg"]],
                audience=f"{self.issuer}/token",
                issuer=self.client_id,
                options={"require": ["exp", "iat", "jti", "sub"]},
            )
        except jwt.PyJWTError:
            return False
        self.assertions.append({"header": header, "claims": claims})
        return bool(claims["sub"] == self.client_id)

    def _post(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(h.rfile.read(length).decode()).items()}
        self.token_requests.append(form)
        self.headers_seen.append(dict(h.headers))
        if not self._client_ok(h, form):
            self._json(h, 401, {"error": "invalid_client"})
            return
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if grant is None or challenge != grant.challenge:
            self._json(h, 400, {"error": "invalid_grant"})
            return
        self._json(
            h, 200, {"access_token": "at", "token_type": "Bearer", "id_token": self.id_token(grant)}
        )


def client(
    provider: Provider, auth: ClientAuth | None = None, secret: str | None = None
) -> OidcClient:
    config = OidcConfig(
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=provider.client_secret if secret is None else secret,
        redirect_base_url="https://plaudit.example.com/dashboard",
    )
    return OidcClient(config, auth=auth or ClientAuth())


async def _sign_in(oidc: OidcClient) -> dict[str, Any]:
    started = await oidc.start()
    answer = await asyncio.to_thread(httpx.get, started.url, timeout=10)
    assert answer.status_code == 302, answer.text
    back = parse_qs(urlparse(answer.headers["location"]).query)
    assert back["state"] == [started.state]
    return await oidc.finish(back["code"][0], verifier=started.verifier, nonce=started.nonce)


def sign_in(oidc: OidcClient) -> dict[str, Any]:
    return asyncio.run(_sign_in(oidc))


@pytest.fixture
def provider() -> Any:
    with Provider() as fake:
        yield fake


# -- ID token algorithms -------------------------------------------------------------------


def test_an_es256_provider_signs_people_in(provider: Provider) -> None:
    claims = sign_in(client(provider))
    assert claims["email"] == provider.email and claims["aud"] == provider.client_id


def test_a_ps256_provider_signs_people_in() -> None:
    with Provider(alg="PS256", signing_key=rsa.generate_private_key(65537, 2048)) as fake:
        assert sign_in(client(fake))["sub"] == "subject-1"


def test_a_token_signed_with_an_algorithm_the_provider_did_not_announce_is_refused() -> None:
    # The keys verify the signature; the algorithm is simply not among the announced ones.
    with Provider(alg="ES256", announced=["RS256"]) as fake, pytest.raises(TokenRejected):
        sign_in(client(fake))


def test_a_provider_announcing_only_shared_secret_or_no_signatures_is_not_used() -> None:
    with Provider(announced=["HS256", "none"]) as fake:
        with pytest.raises(OidcError, match="only with HS256, none"):
            asyncio.run(client(fake).start())
        assert fake.authorize_requests == []


def test_a_rotated_key_is_fetched_again_and_a_forged_one_refused(provider: Provider) -> None:
    oidc = client(provider)
    sign_in(oidc)
    provider.signing_key, provider.kid = ec.generate_private_key(ec.SECP256R1()), "key-2"
    assert sign_in(oidc)["email"] == provider.email  # a new kid: the key set is read again
    published = provider.jwks()
    provider.signing_key = ec.generate_private_key(ec.SECP256R1())  # the same kid, a stranger
    provider.jwks = lambda: published  # type: ignore[method-assign]
    with pytest.raises(TokenRejected):
        sign_in(oidc)


# -- token endpoint authentication ---------------------------------------------------------


def test_client_secret_basic_is_chosen_when_offered_and_sends_no_secret_in_the_body(
    provider: Provider,
) -> None:
    provider.methods = ["client_secret_post", "client_secret_basic"]
    sign_in(client(provider))
    (form,) = provider.token_requests
    (headers,) = provider.headers_seen
    assert headers["Authorization"].startswith("Basic ") and "client_secret" not in form
    assert form["code_verifier"] and form["grant_type"] == "authorization_code"


def test_client_secret_post_when_the_settings_say_so(provider: Provider) -> None:
    provider.methods = ["client_secret_basic", "client_secret_post"]
    sign_in(client(provider, ClientAuth(method="client_secret_post")))
    (form,) = provider.token_requests
    assert form["client_secret"] == provider.client_secret
    assert "Authorization" not in provider.headers_seen[0]


def test_a_method_the_provider_does_not_offer_is_refused_at_the_start(provider: Provider) -> None:
    provider.methods = ["client_secret_basic"]
    with pytest.raises(OidcError, match="does not accept client_secret_post"):
        asyncio.run(client(provider, ClientAuth(method="client_secret_post")).start())
    assert provider.authorize_requests == []


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (rsa.generate_private_key(65537, 2048), "RS256"),
        (ec.generate_private_key(ec.SECP256R1()), "ES256"),
    ],
)
def test_private_key_jwt_signs_an_assertion_the_provider_verifies(
    provider: Provider, key: PrivateKey, alg: str
) -> None:
    provider.methods = ["client_secret_basic", "private_key_jwt"]
    provider.client_key = key
    auth = oidc_auth.load(_pem(key), key_id="plaudit-1", method="private_key_jwt")
    assert sign_in(client(provider, auth, secret=""))["email"] == provider.email
    (form,) = provider.token_requests
    assert "client_secret" not in form and form["client_id"] == provider.client_id
    (seen,) = provider.assertions
    assert seen["header"]["alg"] == alg and seen["header"]["kid"] == "plaudit-1"
    assert "Authorization" not in provider.headers_seen[0]


def test_private_key_jwt_is_preferred_with_a_key_and_names_its_certificate(
    provider: Provider,
) -> None:
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "plaudit")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    bundle = _pem(key) + certificate.public_bytes(serialization.Encoding.PEM)
    provider.methods = ["client_secret_post", "private_key_jwt"]
    provider.client_key = key
    sign_in(client(provider, oidc_auth.load(bundle)))
    (seen,) = provider.assertions
    der = certificate.public_bytes(serialization.Encoding.DER)
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert seen["header"]["x5t#S256"] == thumbprint and seen["header"]["x5t"]
    assert seen["header"]["kid"]  # the key's JWK thumbprint when no id is given


def test_private_key_jwt_refused_when_the_provider_takes_no_algorithm_the_key_can_sign(
    provider: Provider,
) -> None:
    provider.methods, provider.assertion_algs = ["private_key_jwt"], ["ES384"]
    key = rsa.generate_private_key(65537, 2048)
    auth = oidc_auth.load(_pem(key), method="private_key_jwt")
    with pytest.raises(OidcError, match="no algorithm"):
        asyncio.run(client(provider, auth).start())


def test_the_environment_names_the_method_and_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the tree's
    monkeypatch.setenv("PLAUDIT_OIDC_TOKEN_AUTH_METHOD", "private_key_jwt")
    with pytest.raises(ValueError, match="private key"):
        oidc_auth.from_environment()
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "oidc.pem").write_bytes(_pem(key))
    monkeypatch.setenv("PLAUDIT_OIDC_PRIVATE_KEY_FILE", str(tmp_path / "oidc.pem"))
    auth = oidc_auth.from_environment()
    assert auth.method == "private_key_jwt" and auth.algorithms == ("ES256",)
    assert "BEGIN" not in repr(auth)
    monkeypatch.setenv("PLAUDIT_OIDC_TOKEN_AUTH_METHOD", "client_secret_jwt")
    with pytest.raises(ValueError, match="PLAUDIT_OIDC_TOKEN_AUTH_METHOD"):
        oidc_auth.from_environment()
    monkeypatch.setenv("PLAUDIT_OIDC_TOKEN_AUTH_METHOD", "client_secret_basic")
    (tmp_path / "oidc.pem").write_text("not a key")
    with pytest.raises(ValueError, match="not an unencrypted PEM"):
        oidc_auth.from_environment()

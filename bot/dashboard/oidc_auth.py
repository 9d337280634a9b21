"""How the dashboard proves itself at the OpenID Connect token endpoint: the method
(`PLAUDIT_OIDC_TOKEN_AUTH_METHOD`) and, for `private_key_jwt`, the key its assertions are
signed with (`PLAUDIT_OIDC_PRIVATE_KEY_FILE`, a PEM file, optionally with its certificate)."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, RSAKey
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

Method = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
METHODS: tuple[Method, ...] = ("client_secret_basic", "client_secret_post", "private_key_jwt")
# What a key of each kind (EC by curve) may sign an assertion with, in order of preference.
_ASSERTION_ALGS = {"RSA": ("RS256", "PS256"), "P-256": ("ES256",), "P-384": ("ES384",),
                   "P-521": ("ES512",)}  # fmt: skip
_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


class ClientAuthSettings(BaseSettings):
    """The environment's (or `.env`'s) say on token endpoint authentication."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    method: Method | None = Field(None, alias="PLAUDIT_OIDC_TOKEN_AUTH_METHOD")
    private_key_file: Path | None = Field(None, alias="PLAUDIT_OIDC_PRIVATE_KEY_FILE")
    private_key_id: str | None = Field(None, alias="PLAUDIT_OIDC_PRIVATE_KEY_ID")


@dataclass(frozen=True)
class ClientAuth:
    """`method` None: the first the provider accepts of private_key_jwt (with a key),
    client_secret_basic and client_secret_post. `headers` go into each assertion (`kid`, and
    with a certificate `x5t` and `x5t#S256`, which Microsoft Entra ID matches keys by)."""

    method: Method | None = None
    key: RSAKey | ECKey | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method == "private_key_jwt" and self.key is None:
            raise ValueError("private_key_jwt needs a private key (PLAUDIT_OIDC_PRIVATE_KEY_FILE)")

    @property
    def algorithms(self) -> tuple[str, ...]:
        """What this client's key may sign an assertion with."""
        if self.key is None:
            return ()
        kind = self.key.curve_name if isinstance(self.key, ECKey) else "RSA"
        return _ASSERTION_ALGS.get(kind, ())

    def __repr__(self) -> str:  # keeps the key out of logs
        return f"ClientAuth(method={self.method!r}, key_id={self.headers.get('kid')!r})"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load(pem: bytes, *, key_id: str | None = None, method: Method | None = None) -> ClientAuth:
    """A client that signs with the private key in `pem` (RSA or EC; a certificate in the same
    file adds its thumbprints). Without `key_id`, the key's JWK thumbprint names it."""
    try:
        raw = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("the OIDC private key is not an unencrypted PEM private key") from exc
    key: RSAKey | ECKey
    if isinstance(raw, rsa.RSAPrivateKey):
        key = RSAKey.import_key(raw)
    elif isinstance(raw, ec.EllipticCurvePrivateKey):
        key = ECKey.import_key(raw)
    else:
        raise ValueError("the OIDC private key must be an RSA or EC key")
    headers = {"kid": key_id or key.thumbprint()}
    found = _CERTIFICATE.search(pem)
    if found:
        certificate = x509.load_pem_x509_certificate(found.group(0))
        der = certificate.public_bytes(serialization.Encoding.DER)
        headers["x5t"] = _b64url(hashlib.sha1(der).digest())  # a name for the key, not a MAC
        headers["x5t#S256"] = _b64url(hashlib.sha256(der).digest())
    return ClientAuth(method=method, key=key, headers=headers)


def from_environment() -> ClientAuth:
    """The client authentication the environment (or `.env`) asks for."""
    try:
        settings = ClientAuthSettings()
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"OpenID Connect client settings: {problems}") from exc
    if settings.private_key_file is None:
        return ClientAuth(method=settings.method)
    try:
        pem = settings.private_key_file.read_bytes()
    except OSError as exc:
        raise ValueError(
            f"PLAUDIT_OIDC_PRIVATE_KEY_FILE cannot be read: {type(exc).__name__}"
        ) from exc
    return load(pem, key_id=settings.private_key_id, method=settings.method)

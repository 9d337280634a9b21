"""Encryption at rest for what only the drug-safety team may read: a PV case's original text.

AES-256-GCM with a key held outside the database (`PLAUDIT_PV_KEY`, or a file named by
`PLAUDIT_PV_KEY_FILE`). A sealed text is `pv1:<key id>:<nonce and ciphertext, base64url>`;
its place (`pv_case:<id>`) is bound in as associated data, so a sealed text copied onto
another case does not open. Several keys may be given: the first seals, all open, so a key
can be rotated (`plaudit pv rekey`) and an old one dropped; a text sealed with a dropped
key can no longer be read by anyone (erasure by forgetting the key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "pv1"
_SEALED = re.compile(rf"^{PREFIX}:([0-9a-f]{{8}}):([A-Za-z0-9_-]+)$")
_NONCE = 12


class VaultError(Exception):
    """A key that is not a key, or a sealed text that cannot be opened."""


def new_key() -> str:
    """A fresh key, as `PLAUDIT_PV_KEY` takes it (32 random bytes, base64url)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def is_sealed(text: str) -> bool:
    return _SEALED.match(text) is not None


def context(case_id: int) -> str:
    """The associated data that binds a sealed text to its case."""
    return f"pv_case:{case_id}"


class Vault:
    """Seals with the first key, opens with any; the keys never appear in its repr."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise VaultError("no key given")
        for key in keys:
            if len(key) != 32:
                raise VaultError("each key must be 32 bytes (44 characters of base64url)")
        self._keys = {_key_id(k): AESGCM(k) for k in keys}
        self.key_id = _key_id(keys[0])

    @classmethod
    def parse(cls, value: str) -> Vault:
        """Keys as configured: base64url, separated by commas or white space, current first."""
        keys: list[bytes] = []
        for part in re.split(r"[\s,]+", value.strip()):
            if not part:
                continue
            try:
                keys.append(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
            except (binascii.Error, ValueError) as exc:
                raise VaultError(
                    "a key is not base64url (make one with plaudit pv keygen)"
                ) from exc
        return cls(keys)

    def __repr__(self) -> str:
        return f"Vault(current={self.key_id}, keys={len(self._keys)})"

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def seal(self, text: str, place: str) -> str:
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._keys[self.key_id].encrypt(nonce, text.encode(), place.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}:{self.key_id}:{body}"

    def open(self, sealed: str, place: str) -> str:
        match = _SEALED.match(sealed)
        if match is None:
            raise VaultError("not a sealed text")
        key_id, body = match.groups()
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise VaultError(f"sealed with key {key_id}, which is not configured")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return cipher.decrypt(raw[:_NONCE], raw[_NONCE:], place.encode()).decode()
        except InvalidTag as exc:
            raise VaultError(f"sealed text for {place} does not open: altered or moved") from exc

    def needs_rekey(self, sealed: str) -> bool:
        """Sealed with a key other than the current one."""
        match = _SEALED.match(sealed)
        return match is not None and match.group(1) != self.key_id


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"plaudit-pv-key:" + key).hexdigest()[:8]

"""The audit trail's seal: entries appended freely, sealed in batches into a keyed chain.

In the manner of Certificate Transparency (RFC 6962) and Trillian, a writer appends an
entry without reading anything and without waiting for another writer (`queries.
append_audit`). A sealer, one at a time, takes the entries that have become visible since
it last ran, in the order it first sees them (by id within one batch: an entry whose
transaction commits late is sealed in a later batch), and links each into a chain keyed
with HMAC-SHA256: `mac[n] = HMAC(K, mac[n-1] || leaf[n])`, where a leaf is the entry's id,
place and content in canonical JSON. Each batch ends in a checkpoint (size, head, time)
signed with an Ed25519 key derived from the same secret, which the caller publishes
outside the database. Someone who holds the database but not the key can neither edit an
entry nor recompute the macs after it; deleting the newest entries is caught by any
checkpoint published before (`storage.audit_verify`).

The key is never stored: `AuditKey` is made from `PLAUDIT_AUDIT_KEY` by the caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Engine, bindparam, select, text, update
from sqlalchemy import insert as sa_insert
from sqlmodel import Session

from storage.db import transaction
from storage.models import AuditCheckpoint, AuditEntry

ORIGIN = "plaudit-audit/v1"
GENESIS = "0" * 64
SEALER_LOCK = 0x504C5345  # "PLSE": one sealer at a time on PostgreSQL (writers never take it)
BATCH = 5000

_entry = AuditEntry.__table__  # type: ignore[attr-defined]
_checkpoint = AuditCheckpoint.__table__  # type: ignore[attr-defined]
HEAD = (
    select(_entry.c.seq, _entry.c.mac)
    .where(_entry.c.seq.is_not(None))
    .order_by(_entry.c.seq.desc())
    .limit(1)
)
_UNSEALED = (
    select(
        _entry.c.id,
        _entry.c.at,
        _entry.c.actor,
        _entry.c.action,
        _entry.c.subject,
        _entry.c.detail,
    )
    .where(_entry.c.seq.is_(None))
    .order_by(_entry.c.id)
    .limit(bindparam("n"))
)
_SEAL = (
    update(_entry)
    .where(_entry.c.id == bindparam("entry"), _entry.c.seq.is_(None))
    .values(seq=bindparam("position"), mac=bindparam("digest"))
)
_LAST_CHECKPOINT = select(_checkpoint).order_by(_checkpoint.c.size.desc()).limit(1)


class AuditKeyError(ValueError):
    """A configured audit key that is not a key."""


def new_key() -> str:
    """A fresh key, as `PLAUDIT_AUDIT_KEY` takes it (32 random bytes, base64url)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class AuditKey:
    """The secret that keys the chain and signs its checkpoints; never in its repr."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise AuditKeyError(
                "the audit key must be 32 bytes, 44 characters of base64url "
                "(make one: plaudit audit keygen)"
            )
        self._chain = hmac.new(secret, b"plaudit audit chain", hashlib.sha256).digest()
        seed = hmac.new(secret, b"plaudit audit checkpoint", hashlib.sha256).digest()
        self._signer = Ed25519PrivateKey.from_private_bytes(seed)
        self.public = public_key_text(self._signer.public_key())
        self.key_id = hashlib.sha256(self.public.encode()).hexdigest()[:16]

    @classmethod
    def parse(cls, value: str) -> AuditKey:
        value = value.strip()
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError) as exc:
            raise AuditKeyError(
                "the audit key is not base64url (make one: plaudit audit keygen)"
            ) from exc
        return cls(raw)

    def __repr__(self) -> str:
        return f"AuditKey(key_id={self.key_id!r})"

    def link(self, prev: str, leaf: bytes) -> str:
        return hmac.new(self._chain, prev.encode() + leaf, hashlib.sha256).hexdigest()

    def sign(self, size: int, head: str, at: datetime) -> Checkpoint:
        at = at.astimezone(UTC).replace(microsecond=0)
        body = _note(size, head, at, self.key_id)
        signature = base64.b64encode(self._signer.sign(body)).decode()
        return Checkpoint(size, head, at, self.key_id, signature, self.public)


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def _note(size: int, head: str, at: datetime, key_id: str) -> bytes:
    return f"{ORIGIN}\n{size}\n{head}\n{at.isoformat()}\n{key_id}\n".encode()


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the sealed chain's head: its first `size` entries end in `head`."""

    size: int
    head: str
    at: datetime
    key_id: str
    signature: str
    public_key: str  # Ed25519, base64: anyone can check the signature, no one can forge it

    def genuine(self) -> bool:
        """The signature verifies under the key it names."""
        try:
            public = Ed25519PublicKey.from_public_bytes(base64.b64decode(self.public_key))
            public.verify(
                base64.b64decode(self.signature), _note(self.size, self.head, self.at, self.key_id)
            )
        except (InvalidSignature, ValueError, binascii.Error):
            return False
        return hashlib.sha256(self.public_key.encode()).hexdigest()[:16] == self.key_id

    def as_json(self) -> dict[str, Any]:
        return {
            "origin": ORIGIN,
            "size": self.size,
            "head": self.head,
            "at": self.at.isoformat(),
            "key_id": self.key_id,
            "public_key": self.public_key,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        """A checkpoint as published; ValueError when it is not one."""
        try:
            if data.get("origin") != ORIGIN:
                raise ValueError(f"not a Plaudit audit checkpoint (origin {data.get('origin')!r})")
            at = datetime.fromisoformat(str(data["at"]))
            return cls(
                size=int(data["size"]),
                head=str(data["head"]),
                at=at if at.tzinfo else at.replace(tzinfo=UTC),
                key_id=str(data["key_id"]),
                signature=str(data["signature"]),
                public_key=str(data["public_key"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a Plaudit audit checkpoint: {exc}") from exc


def leaf(
    *,
    entry_id: int,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    detail: Any,
) -> bytes:
    """An entry as it is chained: its id, its place and its content, in canonical JSON."""
    body = {
        "id": entry_id,
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(),
        "actor": actor,
        "action": action,
        "subject": subject,
        "detail": detail,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def leaf_of(row: Any, place: int) -> bytes:
    """The leaf of an entry read from `audit_entry`, at `place` in the chain."""
    return leaf(
        entry_id=int(row.id),
        seq=place,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        detail=row.detail,
    )


@dataclass(frozen=True)
class Sealed:
    """What one seal did: how many entries it added, and the checkpoint it ends in."""

    added: int
    checkpoint: Checkpoint | None


class HeadMismatch(RuntimeError):
    """The chain's last sealed entry is not the one the last checkpoint signed: sealing
    onto it would bless whatever was done to it."""


def seal(session: Session, key: AuditKey, *, now: datetime, batch: int = BATCH) -> Sealed:
    """Seal up to `batch` unsealed entries onto the chain and sign a checkpoint."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEALER_LOCK})
    head = conn.execute(HEAD).first()
    size, prev = (int(head.seq), str(head.mac)) if head is not None else (0, GENESIS)
    _check_head(session, key, size, prev)
    rows = conn.execute(_UNSEALED, {"n": batch}).all()
    if not rows:
        return Sealed(0, None)
    links = []
    for row in rows:
        size += 1
        prev = key.link(prev, leaf_of(row, size))
        links.append({"entry": row.id, "position": size, "digest": prev})
    conn.execute(_SEAL, links)
    checkpoint = key.sign(size, prev, now)
    conn.execute(sa_insert(_checkpoint), _checkpoint_row(checkpoint))
    return Sealed(len(rows), checkpoint)


def _check_head(session: Session, key: AuditKey, size: int, head: str) -> None:
    last = latest_checkpoint(session)
    if last is None or last.key_id != key.key_id:
        return  # nothing sealed yet under this key
    if size < last.size or (size == last.size and head != last.head):
        raise HeadMismatch(
            f"the audit trail ends at entry {size} ({head[:12]}), but its last checkpoint "
            f"signed {last.size} entries ending {last.head[:12]}; run plaudit audit verify"
        )


def _checkpoint_row(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "size": checkpoint.size,
        "head": checkpoint.head,
        "at": checkpoint.at,
        "key_id": checkpoint.key_id,
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
    }


def latest_checkpoint(session: Session) -> Checkpoint | None:
    """The newest checkpoint the database keeps (the published copies are the ones that
    count against someone who can edit the database)."""
    row = session.connection().execute(_LAST_CHECKPOINT).first()
    return None if row is None else checkpoint_of(row)


def checkpoint_of(row: Any) -> Checkpoint:
    """A checkpoint as `audit_checkpoint` keeps it."""
    return Checkpoint(
        size=int(row.size),
        head=str(row.head),
        at=row.at,
        key_id=str(row.key_id),
        signature=str(row.signature),
        public_key=str(row.public_key),
    )


def seal_all(engine: Engine, key: AuditKey, *, now: datetime, batch: int = BATCH) -> Sealed:
    """Seal everything waiting, a batch per transaction; the last checkpoint made."""
    added, last = 0, None
    while True:
        with transaction(engine) as session:
            done = seal(session, key, now=now, batch=batch)
        added += done.added
        last = done.checkpoint or last
        if done.added < batch:
            return Sealed(added, last)

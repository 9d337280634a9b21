"""One-time dashboard sign-in links, for an installation without single sign-on (and the demo).

A link is issued on the server's console for an active member whose role opens the
dashboard's restricted pages, is good for a few minutes and once only, and both the issue and
the use are entries in the audit trail. The token is signed with a key derived from the
dashboard secret, so any replica can check it; its single use is a unique key in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, func, select

from storage import queries
from storage.models import Member

# Roster roles (or the configured lists) that a link may be issued for.
LINK_ROLES = ("admin", "reviewer", "safety")
DEFAULT_MINUTES = 15
MAX_MINUTES = 60
_PURPOSE = b"plaudit.dashboard.link\x00"
_MAX_TOKEN = 200


@dataclass(frozen=True)
class Issued:
    """A link's token, whom it signs in, and until when."""

    token: str
    member_id: int
    email: str
    name: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    member_id: int
    email: str


@dataclass(frozen=True)
class NotSignedIn:
    """Why a link does not sign anyone in: invalid | expired | used | not_allowed."""

    reason: str


def link_key(secret: str) -> bytes:
    """The key links are signed with, derived from the dashboard secret (never the secret
    itself, so a link's signature says nothing about the session cookies' key)."""
    return hashlib.sha256(_PURPOSE + secret.encode()).digest()


def _signature(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _allowed(member: Member, listed: Iterable[str]) -> bool:
    roles = {str(r).lower() for r in member.roles or ()}
    emails = {e.strip().lower() for e in listed}
    return bool(roles & set(LINK_ROLES)) or (member.email or "").lower() in emails


def _member_by_email(session: Session, email: str) -> Member | None:
    stmt = select(Member).where(func.lower(col(Member.email)) == email)
    return session.exec(stmt).first()


def issue(
    email: str,
    *,
    session: Session,
    key: bytes,
    now: datetime,
    minutes: int = DEFAULT_MINUTES,
    listed: Iterable[str] = (),
    actor: str = "cli",
) -> Issued | str:
    """A link for the active member with `email` whose roster role (or a configured list,
    `listed`) opens the dashboard; or why there is none."""
    address = email.strip().lower()
    if not 1 <= minutes <= MAX_MINUTES:
        return f"a link is good for 1 to {MAX_MINUTES} minutes, not {minutes}"
    member = _member_by_email(session, address)
    if member is None or member.id is None or not member.active or not member.email:
        return f"no active member has the email {address}; import them with plaudit roster first"
    if not _allowed(member, listed):
        return (
            f"{address} has no dashboard role ({', '.join(LINK_ROLES)}): give them one in the "
            "roster's roles column, or list them under dashboard.admins or dashboard.safety "
            "in plaudit.yaml, then ask again"
        )
    expires_at = now.astimezone(UTC) + timedelta(minutes=minutes)
    nonce = secrets.token_urlsafe(18)
    body = f"{member.id}.{int(expires_at.timestamp())}.{nonce}"
    queries.append_audit(
        session=session,
        actor=actor,
        action="dashboard.link_issued",
        subject=f"member:{member.id}",
        detail={"link": _link_id(nonce), "expires_at": expires_at.isoformat()},
        at=now,
    )
    return Issued(
        token=f"{body}.{_signature(key, body)}",
        member_id=member.id,
        email=member.email.lower(),
        name=member.display_name,
        expires_at=expires_at,
    )


def _link_id(nonce: str) -> str:
    """What the audit trail keeps of a link: enough to pair its issue with its use."""
    return hashlib.sha256(nonce.encode()).hexdigest()[:16]


def redeem(
    token: str, *, session: Session, key: bytes, now: datetime, listed: Iterable[str] = ()
) -> SignedIn | NotSignedIn:
    """Sign in with `token` once: its signature, expiry, single use, and the member still
    active with a dashboard role."""
    parts = token.split(".") if len(token) <= _MAX_TOKEN else []
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
        return NotSignedIn("invalid")
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_signature(key, body).encode(), parts[3].encode("utf-8", "replace")):
        return NotSignedIn("invalid")
    if int(parts[1]) <= now.timestamp():
        return NotSignedIn("expired")
    member = session.get(Member, int(parts[0]))
    if member is None or not member.active or not member.email or not _allowed(member, listed):
        return NotSignedIn("not_allowed")
    link = _link_id(parts[2])
    if not queries.claim_inbound(session=session, key=f"dashboard-link:{link}", kind="dashboard"):
        return NotSignedIn("used")
    queries.append_audit(
        session=session,
        actor=f"email:{member.email.lower()}",
        action="dashboard.link_used",
        subject=f"member:{member.id}",
        detail={"link": link},
        at=now,
    )
    assert member.id is not None
    return SignedIn(member_id=member.id, email=member.email.lower())

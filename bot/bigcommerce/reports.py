"""What a store sync or a re-fetch did: counts, cursor, awards, requests spent, what it had to
leave out, error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.bigcommerce.models import Kind
from handlers.milestones import Awarded


@dataclass
class SyncReport:
    promotions: int = 0
    coupons: int = 0
    channels: int = 0
    orders: int = 0
    """Orders read from the store, including those read again in the cursor's overlap."""
    orders_stored: int = 0
    """Distinct orders written in committed batches (one read again at a page boundary
    counts once)."""
    stored_ids: set[int] = field(default_factory=set, repr=False)
    batches: int = 0
    removed: int = 0
    """Promotions, coupons and channels gone from the store and so from the local copy."""
    since: datetime | None = None
    """The cursor the sync started from (None: the first sync)."""
    cursor: datetime | None = None
    """The cursor it left behind."""
    awarded: list[Awarded] = field(default_factory=list)
    requests: int = 0
    """Requests made while the sync ran, by its client (in the running bot, webhook
    re-fetches made meanwhile share that client and are counted here too)."""
    throttled: int = 0
    """429 answers seen (and waited out)."""
    waited_seconds: float = 0.0
    quota: int | None = None
    """The store's request quota per window, as last reported."""
    quota_share: float | None = None
    """Requests made divided by that quota."""
    seconds: float = 0.0
    skipped_parts: dict[Kind, str] = field(default_factory=dict)
    """Parts of the copy left as they were, and why: the store refused the listing (403: the
    API account lacks its scope) or answered it in a shape that cannot be trusted."""
    missing_scopes: list[str] = field(default_factory=list)
    """The read-only scopes those 403s ask for, e.g. "Channel Settings (read-only)"."""
    unreadable: dict[Kind, int] = field(default_factory=dict)
    """Items of a listing that could not be read and were skipped, by kind."""
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The sync ran to the end (perhaps without some parts: see `degraded`)."""
        return self.error is None

    @property
    def degraded(self) -> bool:
        return bool(self.skipped_parts)


@dataclass
class RefetchReport:
    kind: Kind
    id: int
    found: bool = False
    """False when the store no longer has the object (the local copy is left as it is)."""
    awarded: list[Awarded] = field(default_factory=list)
    requests: int = 0
    error: str | None = None
    missing_scope: str | None = None
    """The read-only scope a 403 asks for, when that is why the re-fetch failed."""

    @property
    def ok(self) -> bool:
        return self.error is None

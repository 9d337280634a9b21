"""How the link to the store stands: one status line for the log and the CLI, and the detail
`/readyz` shows (what the last sync copied, what it left out and why, the re-fetch queue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.bigcommerce.models import KINDS
from bot.bigcommerce.reports import RefetchReport, SyncReport
from bot.bigcommerce.scopes import PLURALS, required
from handlers.counts import count


def status_line(store_hash: str, report: SyncReport) -> str:
    """One line: synced, synced without some parts (and which scope to add), or stopped."""
    head = f"BigCommerce: store {store_hash}"
    if report.error is not None:
        return f"{head}: the sync stopped early: {report.error}"
    copied = [
        count(_number(report, kind), kind) for kind in KINDS if kind not in report.skipped_parts
    ]
    line = f"{head}: synced {', '.join(copied) if copied else 'nothing'}"
    for kind, why in report.skipped_parts.items():
        line += f"; {PLURALS[kind]} NOT synced: {why}"
    unreadable = sum(report.unreadable.values())
    if unreadable:
        line += f"; {count(unreadable, 'unreadable item')} skipped"
    if report.missing_scopes:
        line += f". Plaudit's API account needs {required()}"
    return line


def _number(report: SyncReport, kind: str) -> int:
    counts = {
        "promotion": report.promotions,
        "coupon": report.coupons,
        "channel": report.channels,
        "order": report.orders_stored,
    }
    return counts[kind]


class StoreStatus:
    """The last sync and re-fetch, as `/readyz` reports them. Written by the threads that sync
    and re-fetch, read by the event loop: each update replaces whole values."""

    def __init__(self, store_hash: str) -> None:
        self.store_hash = store_hash
        self.last_sync: SyncReport | None = None
        self.synced_at: datetime | None = None
        self.last_refetch_error: str | None = None
        self.refetch_missing_scope: str | None = None

    def synced(self, report: SyncReport, at: datetime) -> None:
        self.last_sync, self.synced_at = report, at

    def refetched(self, report: RefetchReport) -> None:
        self.last_refetch_error = report.error
        self.refetch_missing_scope = report.missing_scope

    def line(self) -> str:
        if self.last_sync is None:
            return f"BigCommerce: store {self.store_hash}: not synced yet"
        return status_line(self.store_hash, self.last_sync)

    def detail(self, queued: int) -> dict[str, Any]:
        """For `/readyz`: reported, never a reason to take the replica out of service (the
        store's trouble is not this replica's)."""
        report = self.last_sync
        missing = list(report.missing_scopes) if report else []
        if self.refetch_missing_scope and self.refetch_missing_scope not in missing:
            missing.append(self.refetch_missing_scope)
        if report is None:
            state = "not synced yet"
        elif report.error is not None:
            state = "error"
        else:
            state = "degraded" if report.degraded or missing else "ok"
        return {
            "status": state,
            "store": self.store_hash,
            "last_sync": self.synced_at.isoformat() if self.synced_at else None,
            "skipped": {PLURALS[k]: why for k, why in report.skipped_parts.items()}
            if report
            else {},
            "missing_scopes": missing,
            "unreadable_items": sum(report.unreadable.values()) if report else 0,
            "error": report.error if report else None,
            "refetch_queue": queued,
            "last_refetch_error": self.last_refetch_error,
            "line": self.line(),
        }

"""Benchmark: syncing a 50,000-order store within a share of its API quota.

A fake BigCommerce store on loopback (real response shapes, rate-limit headers from a
token bucket) holds N orders. Plaudit syncs it from empty, then again after a few hundred
orders change. Reported: requests, the most requests Plaudit made in one rate-limit
window against the quota (it may use `--share` of it), 429s, and time. The store's window
is shortened (default 150 requests per 3 s instead of BigCommerce's 30 s) so the run takes
seconds, not minutes; the requests per window are what the real store would see.

    python bench/store_sync.py [--orders 50000] [--quota 150] [--window-ms 3000] [--share 0.2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import emit  # noqa: E402
from bot.bigcommerce.client import BigCommerceClient, BigCommerceConfig  # noqa: E402
from bot.bigcommerce.sync import sync  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from compliance_rules import default_rules  # noqa: E402
from handlers.policy import KudosPolicy  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import make_engine  # noqa: E402
from tests.fakes.bigcommerce import FakeBigCommerce  # noqa: E402


def run_sync(store: FakeBigCommerce, runtime: Runtime, share: float) -> dict[str, float]:
    before = len(store.requests)
    config = BigCommerceConfig(
        store_hash=store.store_hash,
        access_token=store.access_token,
        api_url=store.url,
        quota_share=share,
    )
    started = time.perf_counter()
    with BigCommerceClient(config) as client:
        report = sync(
            client,
            runtime.run_sync,
            milestones=(),
            calendar=runtime.policy.sprints,
            policy=runtime.policy,
            now=datetime.now(UTC),
        )
    seconds = time.perf_counter() - started
    if report.error:
        raise SystemExit(f"sync failed: {report.error}")
    ours = store.requests[before:]
    per_window: dict[int, int] = {}
    for request in ours:
        per_window[request.window] = per_window.get(request.window, 0) + 1
    return {
        "requests": report.requests,
        "orders": report.orders_stored,
        "windows": len(per_window),
        "busiest": max(per_window.values(), default=0),
        "throttled": report.throttled,
        "seconds": seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--quota", type=int, default=150, help="requests per window")
    parser.add_argument("--window-ms", type=int, default=3_000)
    parser.add_argument("--share", type=float, default=0.2, help="bigcommerce.quota_share")
    parser.add_argument("--changed", type=int, default=500, help="orders changed between syncs")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="plaudit-store-"))
    engine = make_engine(f"sqlite:///{workdir / 'plaudit.db'}")
    migrate.upgrade(engine)
    runtime = Runtime(engine=engine, policy=KudosPolicy(), rules=default_rules())
    with FakeBigCommerce(quota=args.quota, window_ms=args.window_ms) as store:
        start = datetime.now(UTC) - timedelta(days=120)
        store.add_orders(args.orders, start=start, step=timedelta(minutes=3))
        first = run_sync(store, runtime, args.share)
        for order in store.orders[: args.changed]:
            store.modify_order(int(order["id"]), datetime.now(UTC), status_id=5)
        second = run_sync(store, runtime, args.share)
    runtime.close()
    budget = int(args.quota * args.share)
    print(
        f"store: {args.orders} orders, quota {args.quota} requests per "
        f"{args.window_ms} ms window; Plaudit's share {args.share:.0%} = {budget} a window"
    )
    for name, result in (("first sync", first), (f"after {args.changed} changed", second)):
        print(
            f"{name:22} {result['requests']:5.0f} requests, {result['orders']:6.0f} orders, "
            f"busiest window {result['busiest']:3.0f} = {result['busiest'] / args.quota:.1%} "
            f"of the quota, {result['windows']:3.0f} windows, {result['throttled']:.0f} 429s, "
            f"{result['seconds']:.1f} s"
        )
    real_window = 30.0
    print(
        f"at BigCommerce's {real_window:.0f} s window the first sync needs at least "
        f"{first['requests'] / budget * real_window / 60:.1f} minutes at this share"
    )
    busiest = max(first["busiest"], second["busiest"])
    emit(
        "store-sync busiest window, % of quota",
        100 * busiest / args.quota,
        None,
        f"<= {args.share:.0%}",
        busiest <= budget,
    )
    throttled = int(first["throttled"] + second["throttled"])
    emit("store-sync 429s", throttled, None, "0", throttled == 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Campaign time to market: first seen by a sync to live, by the team a milestone credits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from handlers.commerce import PromotionRecord, upsert_promotions
from handlers.milestones import Milestone
from handlers.time_to_market import by_team
from storage.models import BcPromotion

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SPRING = Milestone(id="spring", title="Spring", source="promotion", match_name="Spring*",
                   points=5, team="Brand")  # fmt: skip


def promo(pid: int, name: str, status: str, start: datetime | None = None) -> PromotionRecord:
    return PromotionRecord(pid, name, status, start, None, 0, None)


def test_days_from_first_seen_to_live_by_team_leaving_out_the_first_syncs(
    session: Session,
) -> None:
    upsert_promotions(session, [promo(1, "Spring old", "ENABLED", T0 - 10 * DAY)], now=T0)
    t1 = T0 + DAY
    later = promo(3, "Care launch", "ENABLED", t1 + 5 * DAY)  # enabled, starts in five days
    upsert_promotions(session, [promo(2, "Spring sale", "DISABLED"), later], now=t1)
    upsert_promotions(session, [promo(2, "Spring sale", "ENABLED"), later], now=t1 + 3 * DAY)
    upsert_promotions(session, [later], now=t1 + 6 * DAY)
    upsert_promotions(session, [promo(2, "Spring sale", "DISABLED")], now=t1 + 9 * DAY)
    session.commit()
    rows = {p.id: p for p in session.exec(select(BcPromotion))}
    assert rows[2].first_seen_at == t1 and rows[2].live_at == t1 + 3 * DAY  # kept, disabled now
    assert rows[3].live_at == t1 + 5 * DAY and rows[1].first_seen_at == T0
    found = by_team(session, [SPRING])
    assert [(t.team, t.promotions, t.median_days, t.latest) for t in found] == [
        ("Brand", 1, 3.0, "Spring sale"),
        ("", 1, 5.0, "Care launch"),
    ]  # "Spring old" was there at the first sync: how long it took is not known
    assert by_team(session, []) == [
        type(found[0])("", 2, 4.0, 5.0, "Care launch"),
    ]

"""The store's objects as the local copy keeps them (the records of `handlers.commerce`)."""

from __future__ import annotations

from bot.bigcommerce.models import Channel, Coupon, Order, Promotion
from handlers.commerce import ChannelRecord, CouponRecord, OrderRecord, PromotionRecord


def promotion_record(p: Promotion) -> PromotionRecord:
    return PromotionRecord(
        id=p.id,
        name=p.name,
        status=p.status,
        start_date=p.start_date,
        end_date=p.end_date,
        current_uses=p.current_uses,
        max_uses=p.max_uses,
    )


def coupon_record(c: Coupon) -> CouponRecord:
    return CouponRecord(
        id=c.id,
        name=c.name,
        code=c.code,
        enabled=c.enabled,
        num_uses=c.num_uses,
        max_uses=c.max_uses or None,  # the store writes 0 for unlimited
        date_created=c.date_created,
    )


def channel_record(c: Channel) -> ChannelRecord:
    return ChannelRecord(
        id=c.id,
        name=c.name,
        type=c.type,
        platform=c.platform,
        status=c.status,
        date_created=c.date_created,
    )


def order_record(o: Order) -> OrderRecord:
    return OrderRecord(
        id=o.id,
        status_id=o.status_id,
        counts=o.counts,
        date_created=o.date_created,
        date_modified=o.date_modified,
        total=o.total_inc_tax,
        channel_id=o.channel_id,
    )

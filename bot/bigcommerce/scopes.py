"""The OAuth scopes each part of the local copy needs, as BigCommerce's API reference names them.

Each reference file lists its scopes under `components.securitySchemes.X-Auth-Token`:
promotions.v3.yml and marketing.v2.yml ask for Marketing, orders.v2.oas2.yml for Orders, and
channels.v3.yml for Channel Settings to list channels (Channel Listings is a different scope,
for the product listings of a channel, and does not open `GET /v3/channels`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.bigcommerce.errors import BigCommerceError
from bot.bigcommerce.models import Kind


@dataclass(frozen=True)
class Scope:
    """One read-only OAuth scope: its name in the control panel and its parameter."""

    name: str
    parameter: str

    def __str__(self) -> str:
        return f"{self.name} (read-only)"


MARKETING = Scope("Marketing", "store_v2_marketing_read_only")
ORDERS = Scope("Orders", "store_v2_orders_read_only")
CHANNEL_SETTINGS = Scope("Channel Settings", "store_channel_settings_read_only")

NEEDED: dict[Kind, Scope] = {
    "promotion": MARKETING,
    "coupon": MARKETING,
    "channel": CHANNEL_SETTINGS,
    "order": ORDERS,
}
"""The scope without which the store answers 403 to the listing of each kind."""

PLURALS: dict[Kind, str] = {
    "promotion": "promotions",
    "coupon": "coupons",
    "channel": "channels",
    "order": "orders",
}


def missing_scope(kind: Kind, exc: BaseException) -> Scope | None:
    """The scope a 403 on `kind`'s endpoint means the API account lacks, or None for any
    other failure."""
    if isinstance(exc, BigCommerceError) and exc.status == 403:
        return NEEDED[kind]
    return None


def required() -> str:
    """The scopes to give Plaudit's API account, for messages and the docs."""
    names = dict.fromkeys(str(scope) for scope in NEEDED.values())
    return ", ".join(names)

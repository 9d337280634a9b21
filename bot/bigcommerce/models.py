"""The store's objects as BigCommerce's API describes them, read from its JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, Literal

NON_COUNTING_STATUS_IDS = frozenset({0, 4, 5, 6})
"""Order statuses that never count towards milestones: incomplete, refunded, cancelled,
declined."""

Kind = Literal["promotion", "coupon", "channel", "order"]
KINDS: tuple[Kind, ...] = ("promotion", "coupon", "channel", "order")


@dataclass(frozen=True)
class Promotion:
    id: int
    name: str
    status: str
    redemption_type: str
    current_uses: int
    max_uses: int | None
    start_date: datetime | None
    end_date: datetime | None

    @property
    def enabled(self) -> bool:
        return self.status == "ENABLED"


@dataclass(frozen=True)
class Coupon:
    id: int
    name: str
    code: str
    type: str
    enabled: bool
    num_uses: int
    max_uses: int
    """0 means unlimited."""
    date_created: datetime | None
    expires: datetime | None


@dataclass(frozen=True)
class Order:
    id: int
    status_id: int
    status: str
    date_created: datetime
    date_modified: datetime
    total_inc_tax: Decimal
    currency_code: str
    channel_id: int
    customer_id: int
    is_deleted: bool = False
    """Archived in the store (the control panel's "Archive", or DELETE /v2/orders/{id})."""

    @property
    def counts(self) -> bool:
        """False for archived orders, and for incomplete, refunded, cancelled and declined
        ones."""
        return not self.is_deleted and self.status_id not in NON_COUNTING_STATUS_IDS


@dataclass(frozen=True)
class Channel:
    id: int
    name: str
    type: str
    platform: str
    status: str
    date_created: datetime | None
    date_modified: datetime | None


_MONTHS = {
    name: f"{number:02d}"
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}


def parse_rfc2822(value: str) -> datetime:
    """A v2 date like "Tue, 13 Mar 2018 16:18:59 +0000", always timezone-aware."""
    # v2 writes every date in exactly this UTC form. A full sync reads two per order, so that
    # form takes a quick path; anything else goes to the general RFC 2822 parser.
    if len(value) == 31 and value[3:5] == ", " and value.endswith(" +0000"):
        month = _MONTHS.get(value[8:11])
        if month is not None:
            iso = f"{value[12:16]}-{month}-{value[5:7]}T{value[17:25]}+00:00"
            try:
                return datetime.fromisoformat(iso)
            except ValueError:
                pass
    parsed = parsedate_to_datetime(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_iso8601(value: str) -> datetime:
    """A v3 date like "2019-08-24T14:15:22Z", always timezone-aware."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _optional_date(value: object, parse: Callable[[str], datetime]) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected a date string, got {type(value).__name__}")
    return parse(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _number(value: object) -> int:
    # Some ids are typed `number` in the v2 files (customer_id): 20.0 is the integer 20.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return int(value)


def _money(value: object) -> Decimal:
    """v2 money: "225.0000" mostly, though the files allow "(Float, Float-As-String, Integer)"."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"expected an amount, got {type(value).__name__}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected an amount, got {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"expected a finite amount, got {value!r}")
    return amount


def _flag(value: object) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {type(value).__name__}")
    return value


def read_promotion(item: Any) -> Promotion:
    max_uses = item.get("max_uses")
    return Promotion(
        id=_number(item["id"]),
        name=_text(item.get("name")),
        status=_text(item["status"]),
        redemption_type=_text(item.get("redemption_type")),
        current_uses=_number(item.get("current_uses") or 0),
        max_uses=None if max_uses is None else _number(max_uses),
        start_date=_optional_date(item.get("start_date"), parse_iso8601),
        end_date=_optional_date(item.get("end_date"), parse_iso8601),
    )


def read_coupon(item: Any) -> Coupon:
    return Coupon(
        id=_number(item["id"]),
        name=_text(item.get("name")),
        code=_text(item.get("code")),
        type=_text(item.get("type")),
        enabled=bool(item.get("enabled")),
        num_uses=_number(item.get("num_uses") or 0),
        max_uses=_number(item.get("max_uses") or 0),
        date_created=_optional_date(item.get("date_created"), parse_rfc2822),
        expires=_optional_date(item.get("expires"), parse_rfc2822),
    )


def read_order(item: Any) -> Order:
    return Order(
        id=_number(item["id"]),
        status_id=_number(item["status_id"]),
        status=_text(item.get("status")),
        date_created=parse_rfc2822(_text(item["date_created"])),
        date_modified=parse_rfc2822(_text(item["date_modified"])),
        total_inc_tax=_money(item["total_inc_tax"]),
        currency_code=_text(item.get("currency_code")),
        channel_id=_number(item.get("channel_id") or 1),
        customer_id=_number(item.get("customer_id") or 0),
        is_deleted=_flag(item.get("is_deleted")),
    )


def read_channel(item: Any) -> Channel:
    return Channel(
        id=_number(item["id"]),
        name=_text(item.get("name")),
        type=_text(item.get("type")),
        platform=_text(item.get("platform")),
        status=_text(item.get("status")),
        date_created=_optional_date(item.get("date_created"), parse_iso8601),
        date_modified=_optional_date(item.get("date_modified"), parse_iso8601),
    )

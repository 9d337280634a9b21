"""Walking a listing page by page: v3 `meta.pagination`, v2 page numbers until `204 No Content`.

Pages are asked for by number, one after another, and a listing whose pages do not advance is
stopped with `PagingError` instead of being followed: a page other than the one asked for, a
page that repeats the one before it, a `links.next` that points anywhere but the next page, or
more pages than the first page's `total` can fill. (A mock server answering every request with
the reference's example does all of these; followed blindly, it is an endless listing.)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.bigcommerce.errors import paging_error, shape_error

PAGE_LIMIT = 250
"""Items per page asked for; the most the v2 and v3 list endpoints hand out at once."""

PAGE_MARGIN = 2
"""Pages allowed beyond what the first page's `total` fills: items added while paging."""

Params = Mapping[str, str | int]
Fetch = Callable[[str, Params], Any]
"""GET a path with query parameters; the decoded body, or None for `204 No Content`."""


def v3_items(fetch: Fetch, path: str, params: Params | None = None) -> Iterator[Any]:
    """Every item of a v3 listing (`{"data": [...], "meta": {"pagination": {...}}}`)."""
    page = 1
    budget: int | None = None
    previous: object = None
    while True:
        body = fetch(path, {**(params or {}), "page": page, "limit": PAGE_LIMIT})
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise shape_error(path, "a JSON object with a data list")
        data: list[Any] = body["data"]
        meta = body.get("meta")
        pagination = meta.get("pagination") if isinstance(meta, dict) else None
        if not isinstance(pagination, dict):
            pagination = None
        answered = _count(pagination.get("current_page")) if pagination else None
        if answered is not None and answered >= 1 and answered != page:
            raise paging_error(path, f"asked for page {page}, the store answered page {answered}")
        previous = _unrepeated(path, page, data, previous)
        yield from data
        if not data or pagination is None:
            return
        total_pages = _count(pagination.get("total_pages"))
        if total_pages is None or page >= total_pages:
            return
        if budget is None:
            budget = _budget(pagination, len(data), total_pages)
        if page >= budget:
            raise paging_error(path, f"the listing claims more than the {budget} pages it fills")
        following = _next_page(pagination)
        if following is not None and following != page + 1:
            raise paging_error(path, f"page {page} names page {following} as the next one")
        page += 1


def v2_items(fetch: Fetch, path: str, params: Params | None = None) -> Iterator[Any]:
    """Every item of a v2 listing: JSON lists, page after page, until a short page or 204."""
    page = 1
    previous: object = None
    while True:
        body = fetch(path, {**(params or {}), "page": page, "limit": PAGE_LIMIT})
        if body is None:  # 204 No Content: past the last page
            return
        if not isinstance(body, list):
            raise shape_error(path, "a JSON list")
        previous = _unrepeated(path, page, body, previous)
        yield from body
        if len(body) < PAGE_LIMIT:
            return
        page += 1


def _unrepeated(path: str, page: int, items: list[Any], previous: object) -> object:
    """The page's fingerprint, after checking that it is not the page before it again."""
    fingerprint = _fingerprint(items)
    if page > 1 and items and fingerprint == previous:
        raise paging_error(path, f"page {page} repeats page {page - 1}")
    return fingerprint


def _fingerprint(items: list[Any]) -> object:
    ids = [item.get("id") if isinstance(item, dict) else None for item in items]
    if all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return tuple(ids)
    return json.dumps(items, sort_keys=True, default=str)


def _budget(pagination: dict[str, Any], first_page: int, total_pages: int) -> int:
    """The most pages the listing can fill, from its first page."""
    total = _count(pagination.get("total"))
    if total is None:
        return total_pages + PAGE_MARGIN
    return math.ceil(total / max(first_page, 1)) + PAGE_MARGIN


def _next_page(pagination: dict[str, Any]) -> int | None:
    links = pagination.get("links")
    link = links.get("next") if isinstance(links, dict) else None
    if not isinstance(link, str) or not link:
        return None
    page = dict(parse_qsl(urlsplit(link).query)).get("page")
    return _count(page)


def _count(value: object) -> int | None:
    """A non-negative whole number from JSON (an int, or digits in a string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None

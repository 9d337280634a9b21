"""How a failed BigCommerce request is reported: `BigCommerceError`, never with the token."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

import requests


class BigCommerceError(Exception):
    """A request to BigCommerce failed for good (after any retries it deserved)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        title: str | None = None,
        method: str = "GET",
        path: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.title = title
        self.method = method
        self.path = path


class UnexpectedBody(BigCommerceError):
    """The store answered, but not with what its API reference describes for this endpoint."""


class PagingError(UnexpectedBody):
    """A listing's pages do not advance as its `page` numbers say they should (the same page
    twice, a page other than the one asked for, more pages than the listing holds)."""


@dataclass(frozen=True)
class SkippedItem:
    """An item of a listing that could not be read, and so was left out of it."""

    path: str
    id: int | None
    """Its id, when at least that could be read."""
    reason: str


def http_error(
    path: str, response: requests.Response, token: str, suffix: str = ""
) -> BigCommerceError:
    """The error for an answer with a failing status, with the store's own reason."""
    status = response.status_code
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = response.reason or "Error"
    title = _error_title(response)
    message = f"BigCommerce GET {path} failed: {status} {reason}{suffix}"
    if title:
        message += f": {title}"
    return BigCommerceError(
        scrub(message, token),
        status=status,
        title=scrub(title, token) if title else None,
        path=path,
    )


def shape_error(path: str, expected: str) -> UnexpectedBody:
    return UnexpectedBody(
        f"BigCommerce GET {path} returned an unexpected body: expected {expected}", path=path
    )


def paging_error(path: str, detail: str) -> PagingError:
    return PagingError(
        f"BigCommerce GET {path} stopped paging: {detail}; the listing was not used", path=path
    )


def unreadable(path: str, exc: Exception, token: str) -> BigCommerceError:
    """The error for an item whose fields could not be read."""
    return BigCommerceError(
        f"BigCommerce GET {path} returned an item that could not be read: "
        f"{type(exc).__name__}: {scrub(str(exc), token)}",
        path=path,
    )


def describe(exc: BaseException, token: str) -> str:
    """A one-line reason for the log and a report, never with the access token in it."""
    if isinstance(exc, BigCommerceError):
        text = exc.message
    else:
        text = f"BigCommerce request failed: {type(exc).__name__}"
    return scrub(text, token)


def scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def _error_title(response: requests.Response) -> str | None:
    """The human part of a v3 `{"status","title",...}` or v2 `[{"status","message"}]` body."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if not isinstance(body, dict):
        return None
    for key in ("title", "message", "detail"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None

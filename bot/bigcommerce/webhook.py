"""`POST /webhooks/bigcommerce`: a store's callback checked, read, and its object re-fetched."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.bigcommerce.models import Kind
from bot.http.guards import MAX_BODY, json_problem, payload_too_large
from bot.settings import Settings

if TYPE_CHECKING:
    # Only a type here: the sync module re-exports this module's parsing.
    from bot.bigcommerce.sync import StoreSync

WEBHOOK_SECRET_HEADER = "X-Plaudit-Webhook-Secret"

RETRY_AFTER_S = 60
"""How long a webhook refused for a full queue is asked to wait before it comes again."""

# Scopes worth a re-fetch. Promotions and coupons have no webhook events; channel-scoped
# events (store/channel/{id}/...) are about carts and settings, not the channel itself.
_WEBHOOK_SCOPES: dict[str, Kind] = {
    "store/order/created": "order",
    "store/order/updated": "order",
    "store/order/statusUpdated": "order",
    "store/order/archived": "order",  # the copy stops counting (`is_deleted`)
    "store/order/refund/created": "order",
    "store/channel/created": "channel",
    "store/channel/updated": "channel",
}


async def bigcommerce_webhook(request: Request) -> Response:
    """Answers at once and queues a re-fetch of the object the callback names."""
    settings: Settings = request.app.state.settings
    store: StoreSync | None = request.app.state.store
    secret = settings.bigcommerce_webhook_secret
    if store is None or secret is None:
        return JSONResponse(
            {
                "error": "webhooks_disabled",
                "detail": "set BIGCOMMERCE_STORE_HASH, BIGCOMMERCE_ACCESS_TOKEN and "
                "BIGCOMMERCE_WEBHOOK_SECRET",
            },
            status_code=404,
        )
    body = await request.body()
    if len(body) > MAX_BODY:
        return payload_too_large()
    if not verify_webhook(request.headers, secret.get_secret_value()):
        return JSONResponse({"error": "invalid_secret"}, status_code=401)
    problem = json_problem(body)
    if problem:
        return JSONResponse({"error": "bad_request", "detail": problem}, status_code=400)
    target = parse_webhook(body)
    if target is None:
        return JSONResponse({"status": "ignored"}, status_code=200)
    # Answer at once (BigCommerce retries slow endpoints); the re-fetch waits its turn in the
    # queue, and a webhook for an object already waiting there joins it.
    outcome = store.enqueue(*target, request.app.state.refetches)
    if outcome == "full":
        # A failure status makes BigCommerce deliver the webhook again later.
        return JSONResponse(
            {"error": "busy", "detail": "too many re-fetches waiting; deliver again later"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    return JSONResponse({"status": outcome, "kind": target[0], "id": target[1]})


def verify_webhook(
    headers: Mapping[str, str], secret: str, header_name: str = WEBHOOK_SECRET_HEADER
) -> bool:
    """True when the request carries `secret` in `header_name` (any letter case).

    BigCommerce sends the custom headers given when the webhook was registered; an empty
    configured secret accepts nothing.
    """
    if not secret:
        return False
    wanted = header_name.lower()
    given = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


def parse_webhook(body: bytes) -> tuple[Kind, int] | None:
    """(kind, id) of the object a BigCommerce webhook is about, or None when the body is not
    a webhook or is about something the milestones do not use (carts, products, ...).

    A callback looks like {"scope": "store/order/updated", "data": {"type": "order",
    "id": 123}, "hash": ..., "created_at": ..., "producer": "stores/abc"}.
    """
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    scope = payload.get("scope")
    data = payload.get("data")
    if not isinstance(scope, str) or not isinstance(data, dict):
        return None
    kind = _WEBHOOK_SCOPES.get(scope)
    if kind is None:
        return None
    declared = data.get("type")
    if declared is not None and declared != kind:
        return None
    object_id = _positive_int(data.get("id"))
    if object_id is None:
        return None
    return kind, object_id


def _positive_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if isinstance(value, int) and 0 < value < 2**63:
        return value
    return None

"""`POST /webhooks/kpi`: KPI events from a CTMS or CRM, signed with a shared secret.

The sender signs each delivery as Slack signs its requests: `X-Plaudit-Timestamp` (Unix
seconds) and `X-Plaudit-Signature: v1=<hex>`, the HMAC-SHA256 of `v1:<timestamp>:<body>`
under `PLAUDIT_KPI_WEBHOOK_SECRET`. A delivery older than five minutes is refused, so a
captured one cannot be replayed later; within them, event ids make a repeat harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.http.guards import MAX_BODY, json_problem, payload_too_large
from bot.runtime import Runtime
from bot.settings import Settings
from handlers import kpis

SIGNATURE_HEADER = "X-Plaudit-Signature"
TIMESTAMP_HEADER = "X-Plaudit-Timestamp"
MAX_SKEW_S = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    base = b"v1:" + timestamp.encode("ascii") + b":" + body
    return "v1=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def verified(headers: Headers, body: bytes, secret: str, now: float) -> str | None:
    """None when the delivery is signed with `secret` within `MAX_SKEW_S` of `now`; else
    why not (said to the sender: it names no secret)."""
    stamp, given = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)  # any case
    if not stamp or not given:
        return f"sign the request: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}"
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return f"{TIMESTAMP_HEADER} must be Unix seconds"
    if abs(now - int(stamp)) > MAX_SKEW_S:
        return f"{TIMESTAMP_HEADER} is more than {MAX_SKEW_S} seconds from now"
    if not secret or not hmac.compare_digest(given.encode(), sign(secret, stamp, body).encode()):
        return "the signature does not match"
    return None


def _rows(payload: dict[str, Any]) -> list[Mapping[str, object]]:
    """The events of a delivery: `{"events": [...]}` or one event as the whole body."""
    if "events" not in payload:
        return [payload]
    events = payload["events"]
    if len(payload) != 1 or not isinstance(events, list):
        raise kpis.KpiError('expected {"events": [...]} or a single event')
    if not all(isinstance(e, dict) for e in events):
        raise kpis.KpiError("every event is a JSON object")
    return events


async def kpi_webhook(request: Request) -> Response:
    """Store the delivery's new events and award what they complete; answer with counts."""
    settings: Settings = request.app.state.settings
    runtime: Runtime = request.app.state.runtime
    secret = settings.kpi_webhook_secret
    if secret is None:
        detail = "set PLAUDIT_KPI_WEBHOOK_SECRET to receive KPI events"
        return JSONResponse({"error": "webhook_disabled", "detail": detail}, status_code=404)
    body = await request.body()
    if len(body) > MAX_BODY:
        return payload_too_large()
    refused = verified(request.headers, body, secret.get_secret_value(), time.time())
    if refused is not None:
        return JSONResponse({"error": "invalid_signature", "detail": refused}, status_code=401)
    problem = json_problem(body)
    if problem:
        return JSONResponse({"error": "bad_request", "detail": problem}, status_code=400)
    now = runtime.clock.now()
    try:
        events = kpis.read_events(_rows(json.loads(body)), now.date())
    except kpis.KpiError as exc:
        return JSONResponse({"error": "bad_request", "detail": str(exc)}, status_code=400)
    context = milestone_context(runtime)

    def store(session: Session) -> kpis.Recorded:
        return kpis.record(events, session=session, now=now, source="webhook", context=context)

    try:
        done = await runtime.run(store)
    except kpis.KpiConflict as exc:
        detail = f"{exc}; send a new id for a corrected event"
        return JSONResponse({"error": "conflict", "detail": detail}, status_code=409)
    if done.awarded:
        runtime.poke()  # the awards' posts are in the outbox
    return JSONResponse(
        {"stored": done.stored, "repeated": done.repeated, "awarded": len(done.awarded)}
    )


def milestone_context(runtime: Runtime) -> kpis.MilestoneContext:
    """Where the milestones that KPI events complete give their points."""
    return kpis.MilestoneContext(runtime.milestones, runtime.policy.sprints, runtime.policy)

"""What a request's body must pass before Bolt or a handler sees it: its size and shape."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from starlette.responses import JSONResponse

MAX_BODY = 64 * 1024


def payload_too_large() -> JSONResponse:
    """The answer for a body past `MAX_BODY`."""
    return JSONResponse({"error": "payload_too_large"}, status_code=413)


def malformed(body: bytes, content_type: str) -> str | None:
    """Why Bolt could not parse this body, checked before Bolt sees it (it would answer 500)."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if "application/json" in content_type:
        try:
            return None if isinstance(json.loads(decoded), dict) else "expected a JSON object"
        except json.JSONDecodeError:
            return "the body is not valid JSON"
    if "application/x-www-form-urlencoded" not in content_type:
        return "unsupported content type"
    try:
        form = parse_qs(decoded, strict_parsing=bool(decoded), errors="strict")
    except (ValueError, UnicodeDecodeError):
        return "the form body is malformed"
    if "payload" in form:
        try:
            payload = json.loads(form["payload"][0])
        except json.JSONDecodeError:
            return "the payload field is not valid JSON"
        if not isinstance(payload, dict):
            return "the payload field must be a JSON object"
    elif "command" not in form and "ssl_check" not in form:
        return "neither a command nor an interaction payload"
    return None

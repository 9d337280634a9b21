"""`POST /api/messages`: size and media-type checks in front of the Teams endpoint."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.http.guards import MAX_BODY, json_problem, payload_too_large
from bot.teams.endpoint import TeamsEndpoint


async def teams_messages(request: Request) -> Response:
    teams: TeamsEndpoint | None = request.app.state.teams
    if teams is None:
        return JSONResponse(
            {
                "error": "teams_disabled",
                "detail": "set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD",
            },
            status_code=404,
        )
    body = await request.body()
    if len(body) > MAX_BODY:
        return payload_too_large()
    if "application/json" not in request.headers.get("content-type", ""):
        return JSONResponse({"error": "unsupported_media_type"}, status_code=415)
    problem = json_problem(body)  # before the SDK parses it, or checks who sent it
    if problem:
        return JSONResponse({"error": "bad_request", "detail": problem}, status_code=400)
    status, answer = await teams.handle(body, request.headers.get("authorization"))
    if answer is None:
        return Response(status_code=status)
    return JSONResponse(answer, status_code=status)

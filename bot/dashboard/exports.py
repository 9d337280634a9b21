"""The CSV export endpoints: who may export what; the exports themselves (audited, formula-safe)
are use cases in `handlers.exports`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.dashboard.auth import Viewer
from handlers import exports
from handlers.leaderboard import RECOUNTING, By, recounting
from handlers.sprints import Sprint

if TYPE_CHECKING:
    from bot.dashboard.core import Dashboard


async def export_leaderboard(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    sprint = d.sprint(request)
    if isinstance(sprint, str):
        return PlainTextResponse("No such sprint.", status_code=404)
    if sprint is None:
        return PlainTextResponse("No sprint is running.", status_code=404)
    if await d.runtime.run(recounting):
        return PlainTextResponse(RECOUNTING, status_code=503, headers={"Retry-After": "60"})
    by: By = "team" if request.query_params.get("by") == "team" else "person"
    filters = d.filters(request)
    exclude = d.runtime.boards.exclude
    now = d.runtime.clock.now()
    chosen = sprint
    workspace = d.workspace(request, viewer)
    body = await d.runtime.run(
        lambda s: exports.export_leaderboard(
            s,
            chosen,
            by=by,
            filters=filters,
            exclude=exclude,
            actor=f"email:{viewer.email}",
            now=now,
            workspace=workspace,
        )
    )
    return csv_response(body, f"leaderboard-{sprint.id}-{by}.csv")


async def export_recognitions(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    sprint: Sprint | None = None
    if request.query_params.get("sprint"):
        found = d.sprint(request)
        if not isinstance(found, Sprint):
            return PlainTextResponse("No such sprint.", status_code=404)
        sprint = found
    now = d.runtime.clock.now()
    workspace = d.workspace(request, viewer)
    body = await d.runtime.run(
        lambda s: exports.export_recognitions(
            s, sprint=sprint, actor=f"email:{viewer.email}", now=now, workspace=workspace
        )
    )
    name = f"recognitions-{sprint.id}.csv" if sprint else "recognitions.csv"
    return csv_response(body, name)


def csv_response(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )

"""The CSV export endpoints: who may export what; the exports themselves (audited, formula-safe)
are use cases in `handlers.exports`, but for the leaderboard of a member who sees only its
top places (`visible`), cut here to what the page shows them and audited the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.dashboard import visible
from bot.dashboard.auth import Viewer
from handlers import exports, leaderboard
from handlers.leaderboard import RECOUNTING, By, Filters, recounting
from handlers.sprints import Sprint
from storage.queries import append_audit

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
    top = visible.places(viewer, d.config)
    if top:
        return csv_response(
            await d.runtime.run(
                lambda s: _top_and_own(s, chosen, by, filters, exclude, viewer, top, now, workspace)
            ),
            f"leaderboard-{sprint.id}-{by}.csv",
        )
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


def _top_and_own(
    session: Session,
    sprint: Sprint,
    by: By,
    filters: Filters,
    exclude: Sequence[str],
    viewer: Viewer,
    top: int,
    now: datetime,
    workspace: str | None,
) -> str:
    """The board as a member who sees only its top places sees it (`visible`), as CSV,
    audited in the same transaction like every export, with the limit it was cut to."""
    board = visible.top_and_own(
        leaderboard.board(
            session, sprint, by=by, filters=filters, exclude=exclude, top=None, workspace=workspace
        ),
        top,
        viewer,
    )
    rows = [
        (sprint.id, by, r.rank, r.name, r.email, r.points, r.recognition_points, r.milestone_points)
        for r in board.rows
    ]
    append_audit(
        session=session,
        actor=f"email:{viewer.email}",
        action="export.leaderboard",
        subject=f"sprint:{sprint.id}",
        detail={
            "sprint": sprint.id,
            "by": by,
            "filters": {k: v for k, v in asdict(filters).items() if v},
            "rows": len(rows),
            "members_see_top": top,
            **({"workspace": workspace} if workspace else {}),
        },
        at=now,
    )
    return exports.to_csv(exports.LEADERBOARD_HEADER, rows)


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

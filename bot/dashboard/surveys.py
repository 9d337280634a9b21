"""Survey results on the dashboard, thresholded exactly as in chat."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from bot.dashboard import data
from bot.dashboard.auth import Viewer
from bot.dashboard.charts import distribution_chart

if TYPE_CHECKING:
    from bot.dashboard.app import Dashboard

SURVEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


async def listing(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    listing = await d.runtime.run(data.survey_listing)
    return d.render(
        request,
        "surveys.html",
        viewer=viewer,
        page="surveys",
        title="Surveys",
        listing=listing,
        found=None,
    )


async def survey(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    survey_id = str(request.path_params["survey_id"])
    wanted = request.query_params.get("round")
    number: int | None = None
    if wanted:
        if not wanted.isdigit() or not 0 < int(wanted) < 1_000_000:
            return d.problem(
                request, 404, "No such round", "There is no such round.", viewer=viewer
            )
        number = int(wanted)
    found = (
        await d.runtime.run(lambda s: data.survey_round(s, survey_id, number))
        if SURVEY_ID.match(survey_id)
        else None
    )
    if found is None:
        return d.problem(
            request,
            404,
            "Not found",
            "There is no such survey or round.",
            viewer=viewer,
        )
    res = found.results
    return d.render(
        request,
        "surveys.html",
        viewer=viewer,
        page="surveys",
        title=f"{res.title}, round {res.number}",
        listing=None,
        found=found,
        res=res,
        charts={q.id: distribution_chart(q) for q in res.questions},
        teams=[g for g in res.groups if g.by == "team"],
        regions=[g for g in res.groups if g.by == "region"],
        scored=[q for q in res.questions if q.type in ("scale", "enps") and not q.hidden],
        trend_ids=sorted(
            {k for p in res.trend for k in p.scores},
            key=lambda k: list(found.labels).index(k) if k in found.labels else 1_000,
        ),
    )

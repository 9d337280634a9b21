"""Survey results on the dashboard, thresholded exactly as in chat."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.dashboard import queries_surveys
from bot.dashboard.auth import ADMIN, Viewer
from bot.dashboard.charts import distribution_chart
from bot.dashboard.exports import csv_response
from handlers import exports

if TYPE_CHECKING:
    from bot.dashboard.core import Dashboard

SURVEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


async def listing(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    listing = await d.runtime.run(queries_surveys.survey_listing)
    return d.render(
        request,
        "surveys.html",
        viewer=viewer,
        page="surveys",
        title="Surveys",
        listing=listing,
        found=None,
        scoped=False,
    )


async def survey(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    survey_id = str(request.path_params["survey_id"])
    number = _wanted_round(request)
    if isinstance(number, str):
        return d.problem(request, 404, "No such round", "There is no such round.", viewer=viewer)
    found = await _round(d, viewer, survey_id, number)
    if found is None:
        return d.problem(
            request,
            404,
            "Not found",
            "There is no such survey or round.",
            viewer=viewer,
        )
    page, scoped = found
    res = page.results
    return d.render(
        request,
        "surveys.html",
        viewer=viewer,
        page="surveys",
        title=f"{res.title}, round {res.number}",
        listing=None,
        found=page,
        res=res,
        scoped=scoped,
        export_query=f"?round={res.number}",
        charts={q.id: distribution_chart(q) for q in res.questions},
        teams=[g for g in res.groups if g.by == "team"],
        regions=[g for g in res.groups if g.by == "region"],
        scored=[q for q in res.questions if q.type in ("scale", "enps") and not q.hidden],
        trend_ids=sorted(
            {k for p in res.trend for k in p.scores},
            key=lambda k: list(page.labels).index(k) if k in page.labels else 1_000,
        ),
    )


def _wanted_round(request: Request) -> int | str | None:
    """The round asked for (`?round=`), None for the default one, or "bad"."""
    wanted = request.query_params.get("round")
    if not wanted:
        return None
    if not wanted.isdigit() or not 0 < int(wanted) < 1_000_000:
        return "bad"
    return int(wanted)


async def _round(
    d: Dashboard, viewer: Viewer, survey_id: str, number: int | None
) -> tuple[queries_surveys.SurveyRoundPage, bool] | None:
    """The round as this viewer may see it, and whether it was narrowed to their org.

    Administrators and the survey's owners see every team and region. A manager sees the
    company-wide figures (what the results channel shows) and only the teams of their own
    org in the breakdowns: other teams' rows, and regions (which cut across orgs), are not
    theirs to see. Narrowing only takes groups away from what `results()` decided to show,
    so it never shows a figure held back there.
    """
    if not SURVEY_ID.match(survey_id):
        return None
    manager = viewer.account.id

    def read(s: Session) -> tuple[queries_surveys.SurveyRoundPage, set[str]] | None:
        page = queries_surveys.survey_round(s, survey_id, number)
        return None if page is None else (page, queries_surveys.org_teams(s, manager))

    found = await d.runtime.run(read)
    if found is None:
        return None
    page, teams = found
    if ADMIN in viewer.roles or viewer.email in page.owners:
        return page, False
    res = page.results
    narrowed = replace(
        res,
        groups=tuple(g for g in res.groups if g.by == "team" and g.name in teams),
        suppressed_groups=0,
    )
    return replace(page, results=narrowed), True


async def export_survey(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    survey_id = str(request.path_params["survey_id"])
    number = _wanted_round(request)
    if number == "bad":
        return PlainTextResponse("No such round.", status_code=404)
    assert not isinstance(number, str)
    found = await _round(d, viewer, survey_id, number)
    if found is None:
        return PlainTextResponse("No such survey or round.", status_code=404)
    page, scoped = found
    res = page.results
    now = d.runtime.clock.now()
    actor = f"email:{viewer.email}"
    body = await d.runtime.run(
        lambda s: exports.export_survey(s, res, scoped=scoped, actor=actor, now=now)
    )
    return csv_response(body, f"survey-{res.survey_id}-round-{res.number}.csv")

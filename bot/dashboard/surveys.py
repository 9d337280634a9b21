"""Survey results on the dashboard, thresholded exactly as in chat."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.dashboard import data
from bot.dashboard.auth import ADMIN, Viewer
from bot.dashboard.charts import distribution_chart
from bot.dashboard.exports import csv_response
from handlers.surveys import Results
from storage import queries

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
) -> tuple[data.SurveyRoundPage, bool] | None:
    """The round as this viewer may see it, and whether it was narrowed to their org.

    Administrators and the survey's owners see every team and region. A manager sees the
    company-wide figures (what the results channel shows) and only the teams of their own
    org in the breakdowns: other teams' rows, and regions (which cut across orgs), are not
    theirs to see.
    """
    if not SURVEY_ID.match(survey_id):
        return None
    manager = viewer.account.id

    def read(s: Session) -> tuple[data.SurveyRoundPage, set[str]] | None:
        page = data.survey_round(s, survey_id, number)
        return None if page is None else (page, data.org_teams(s, manager))

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


SURVEY_HEADER = ("survey", "round", "section", "item", "answer", "value")


def survey_rows(res: Results, *, scoped: bool) -> list[tuple[object, ...]]:
    """A round's aggregates as rows: only what the page shows (thresholds applied)."""
    head = (res.survey_id, res.number)
    rows: list[tuple[object, ...]] = [
        (*head, "participation", "invited", "", res.invited),
        (*head, "participation", "respondents", "", res.respondents),
    ]
    if not res.closed or res.hidden:
        return rows
    scored = [q for q in res.questions if q.type in ("scale", "enps") and not q.hidden]
    for q in res.questions:
        if q.hidden:
            rows.append((*head, "question", q.text, "hidden", f"fewer than {res.min_responses}"))
            continue
        rows.append((*head, "question", q.text, "answers", q.answers))
        rows.extend((*head, "question", q.text, name, n) for name, n in q.distribution.items())
        if q.mean is not None:
            rows.append((*head, "question", q.text, "mean", q.mean))
        if q.enps is not None:
            rows.append((*head, "question", q.text, "enps", q.enps))
        rows.extend((*head, "question", q.text, "text", t) for t in q.texts)
    for g in res.groups:
        rows.append((*head, g.by, g.name, "respondents", g.respondents))
        rows.extend((*head, g.by, g.name, q.text, g.means[q.id]) for q in scored if q.id in g.means)
    if res.suppressed_groups and not scoped:
        rows.append((*head, "groups", "hidden", "", res.suppressed_groups))
    return rows


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
    rows = survey_rows(res, scoped=scoped)
    now = d.runtime.clock.now()

    def audit(s: Session) -> None:
        queries.append_audit(
            session=s,
            actor=f"email:{viewer.email}",
            action="export.survey",
            subject=f"survey:{res.survey_id}:{res.number}",
            detail={"round": res.number, "rows": len(rows), "scope": "org" if scoped else "all"},
            at=now,
        )

    await d.runtime.run(audit)
    return csv_response(
        data.to_csv(SURVEY_HEADER, rows), f"survey-{res.survey_id}-round-{res.number}.csv"
    )

"""The collaboration page: kudos across teams and functions over time, who recognises whom
(heat maps drawn as SVG with their figures in tables), islands and engagement rates, with a
drill-down by region, therapeutic area and team, and CSV exports; thresholded in handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.dashboard import queries
from bot.dashboard.auth import Viewer
from bot.dashboard.exports import csv_response
from handlers import collaboration as co
from handlers import engagement as en
from handlers.exports import to_csv
from storage.queries import append_audit

if TYPE_CHECKING:
    from bot.dashboard.core import Dashboard

HEAT_MOST = 15  # names a heat map draws; the CSV has them all
# Light to dark blue; text on the last three is white (each pair at least 4.5:1).
HEAT = ("#ffffff", "#dce8f7", "#a9c7ec", "#5b8fd1", "#1d5fb0", "#0b3d75")
HELD = "#d6d6d6"
ENGAGEMENT_HEADER = (
    "period", "group_by", "group", "people", "active_givers", "givers_per_head",
    "active_receivers", "receivers_per_head", "kudos_received", "received_by_non_givers",
    "note",
)  # fmt: skip
MATRIX_HEADER = ("window", "boundary", "giver_side", "recipient_side", "kudos", "note")
LABELS = {"everyone": "Everyone", "team": "Team", "region": "Region", "therapeutic_area": "Area"}


@dataclass(frozen=True)
class Asked:
    """What a request asks for: weeks or months, the drill-down, the engagement period."""

    every: co.Every
    scope: co.Scope
    period: str | None


def asked(d: Dashboard, request: Request) -> Asked:
    every: co.Every = "week" if request.query_params.get("every") == "week" else "month"
    f = d.filters(request)
    scope = co.Scope(region=f.region, therapeutic_area=f.therapeutic_area, team=f.team)
    return Asked(every, scope, request.query_params.get("period"))


@dataclass(frozen=True)
class Found:
    figures: co.Collaboration
    engagement: en.Engagement
    choices: queries.Choices


def read(session: Session, a: Asked, now: datetime, k: int) -> Found:
    figures = co.collaboration(session, now=now, every=a.every, scope=a.scope, k=k)
    chosen = next((b for b in figures.periods if b.label == a.period), figures.periods[-1])
    table = en.engagement(
        session, label=chosen.label, start=chosen.start, end=chosen.end, scope=a.scope, k=k
    )
    return Found(figures, table, queries.choices(session))


def share_chart(figures: co.Collaboration) -> dict[str, Any]:
    """Geometry of the shares over time: per period a bar for teams and one for functions,
    0 to 100 %; a held-back period has no bars and says so."""
    left, top, area, step, bar = 44, 10, 160, 56, 20
    periods = []
    for i, period in enumerate(figures.periods):
        x = left + 8 + i * step
        bars = []
        for j, by in enumerate(co.BOUNDARIES):
            share = figures.shares[by][i].share
            height = round(area * share) if share is not None else 0
            bars.append({"by": by, "x": x + j * bar, "y": top + area - height, "h": height})
        held = any(figures.shares[by][i].total is None for by in co.BOUNDARIES)
        periods.append({"label": period.label, "x": x, "bars": bars, "held": held})
    ticks = [{"y": top + area - round(area * p / 100), "label": f"{p}%"} for p in (0, 50, 100)]
    return {
        "width": left + 16 + step * len(periods),
        "height": top + area + 34,
        "left": left,
        "base": top + area,
        "bar": bar,
        "periods": periods,
        "ticks": ticks,
    }


def heat_map(matrix: co.Matrix) -> dict[str, Any]:
    """Geometry of a matrix as a heat map: rows give, columns receive, numbered 1..n; the
    names most present among the shown figures first, at most HEAT_MOST of them."""
    weight = {n: 0 for n in matrix.names}
    for (g, r), v in matrix.cells.items():
        weight[g] += v or 0
        weight[r] += v or 0
    names = sorted(matrix.names, key=lambda n: (-weight[n], n))[:HEAT_MOST]
    most = max((v for v in matrix.cells.values() if v), default=1)
    label, size = 150, 34
    cells = []
    for i, g in enumerate(names):
        for j, r in enumerate(names):
            v = matrix.cell(g, r)
            level = 0 if not v else 1 + min(4, (5 * v - 1) // most)
            cells.append(
                {
                    "x": label + j * size,
                    "y": 24 + i * size,
                    "fill": HELD if v is None else HEAT[level],
                    "ink": "#ffffff" if v and level >= 3 else "#1a1a1a",
                    "text": "\u2013" if v is None else str(v),
                    "title": f"{g} to {r}",
                }
            )
    return {
        "names": names,
        "all": len(matrix.names),
        "size": size,
        "label": label,
        "width": label + size * len(names) + 4,
        "height": 28 + size * len(names),
        "cells": cells,
        "columns": [{"x": label + j * size + size // 2, "n": j + 1} for j in range(len(names))],
    }


async def collaboration_page(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    a = asked(d, request)
    now, k = d.runtime.clock.now(), co.threshold(d.runtime.surveys)
    found = await d.runtime.run(lambda s: read(s, a, now, k))
    figures = found.figures
    return d.render(
        request,
        "collaboration.html",
        viewer=viewer,
        page="collaboration",
        title="Collaboration",
        asked=a,
        figures=figures,
        k=k,
        chart=share_chart(figures),
        heat={by: heat_map(figures.matrices[by]) for by in co.BOUNDARIES},
        engagement=found.engagement,
        choices=found.choices,
        labels=LABELS,
        query=_query(a, found.engagement.label),
    )


def _query(a: Asked, period: str) -> str:
    """The page's query string, for the export links."""
    params = {"every": a.every, "period": period, "team": a.scope.team, "region": a.scope.region}
    params["therapeutic_area"] = a.scope.therapeutic_area
    return urlencode({name: v for name, v in params.items() if v})


def engagement_rows(table: en.Engagement) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for r in table.rows:
        if r.held:
            note = f"fewer than {table.threshold} people"
            rows.append((table.label, r.by, r.name, *([""] * 7), note))
            continue
        rows.append(
            (
                table.label, r.by, r.name, r.heads, r.givers, _ratio(r.per_head(r.givers)),
                r.receivers, _ratio(r.per_head(r.receivers)), r.received, r.inclusion, "",
            )
        )  # fmt: skip
    return rows


def matrix_rows(figures: co.Collaboration, by: co.Boundary) -> list[tuple[object, ...]]:
    window = f"{figures.periods[0].label} to {figures.periods[-1].label}"
    matrix = figures.matrices[by]
    rows: list[tuple[object, ...]] = []
    for (g, r), v in sorted(matrix.cells.items()):
        note = f"fewer than {figures.threshold} people" if v is None else ""
        rows.append((window, by, g, r, "" if v is None else v, note))
    return rows


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _export(
    session: Session, a: Asked, what: str, now: datetime, k: int, actor: str
) -> tuple[str, str]:
    """The CSV of the engagement table or a matrix, as the page shows it; audited."""
    found = read(session, a, now, k)
    header: tuple[str, ...]
    if what == "engagement":
        header, rows = ENGAGEMENT_HEADER, engagement_rows(found.engagement)
        name = f"engagement-{found.engagement.label}.csv"
    else:
        boundary: co.Boundary = "team" if what == "team" else "function"
        header, rows = MATRIX_HEADER, matrix_rows(found.figures, boundary)
        name = f"recognition-by-{boundary}.csv"
    append_audit(
        session=session,
        actor=actor,
        action="export.collaboration",
        subject=f"collaboration:{what}",
        detail={
            "what": what,
            "every": a.every,
            "filters": {name: v for name, v in vars(a.scope).items() if v},
            "rows": len(rows),
        },
        at=now,
    )
    return to_csv(header, rows), name


async def export_collaboration(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    what = request.query_params.get("what", "engagement")
    if what not in ("engagement", "team", "function"):
        return PlainTextResponse("No such export.", status_code=404)
    a = asked(d, request)
    now, k = d.runtime.clock.now(), co.threshold(d.runtime.surveys)
    actor = f"email:{viewer.email}"
    body, name = await d.runtime.run(lambda s: _export(s, a, what, now, k, actor))
    return csv_response(body, name)


def routes(d: Dashboard) -> list[BaseRoute]:
    """The page and its CSV export, behind sign-in and their roles (`ACCESS`)."""
    page = d.guarded("collaboration")(partial(collaboration_page, d))
    export = d.guarded("export.collaboration", export=True)(partial(export_collaboration, d))
    return [
        Route("/collaboration", page, methods=["GET"], name="collaboration"),
        Route("/export/collaboration.csv", export, methods=["GET"]),
    ]

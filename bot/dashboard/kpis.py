"""The KPIs page: recognition next to a business KPI week by week, with the correlation and
what it cannot show."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.dashboard.auth import Viewer
from handlers import kpi_trends, time_to_market
from handlers.collaboration import threshold
from handlers.kpi_trends import Week

if TYPE_CHECKING:
    from bot.dashboard.core import Dashboard

SPANS = (13, 26, 52)  # weeks a page may show


def number(value: Decimal | None) -> str:
    """A value as people write it: 5, 12.5, 1,200 (not 5.0000 or 1.2E+3)."""
    if value is None:
        return ""
    return f"{value.normalize():,f}"


def week_chart(weeks: list[Week], measure: str) -> dict[str, Any]:
    """Geometry of one series (`kudos`, `events` or `value`) as columns, one a week, drawn
    as SVG; two such charts one above the other share their weeks."""
    left, area, height, gap = 48, 640, 120, 2
    values = [float(getattr(w, measure)) for w in weeks]
    most = max(values, default=0) or 1
    width = area / max(len(weeks), 1)
    columns = [
        {
            "x": round(left + i * width, 1),
            "width": round(max(width - gap, 1), 1),
            "height": round(height * v / most, 1),
            "y": round(10 + height - height * v / most, 1),
            "label": f"week of {w.start.isoformat()}: {v:g}",
        }
        for i, (w, v) in enumerate(zip(weeks, values, strict=True))
    ]
    return {
        "width": left + area + 10,
        "height": height + 34,
        "left": left,
        "base": 10 + height,
        "most": f"{most:g}",
        "columns": columns,
        "first": weeks[0].start.isoformat() if weeks else "",
        "last": weeks[-1].start.isoformat() if weeks else "",
    }


async def kpis_page(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    query = request.query_params
    kind = query.get("kind") or None
    team = query.get("team") or None
    span = int(query["weeks"]) if query.get("weeks") in {str(s) for s in SPANS} else 26
    today = d.runtime.clock.now().date()
    least = threshold(d.runtime.surveys)
    milestones = d.runtime.milestones

    def read(s: Session) -> tuple[kpi_trends.Trend, list[time_to_market.TeamTime]]:
        found = kpi_trends.trend(s, today=today, weeks=span, kind=kind, team=team, least=least)
        return found, time_to_market.by_team(s, milestones)

    found, times = await d.runtime.run(read)
    valued = any(w.value for w in found.weeks)
    return d.render(
        request,
        "kpis.html",
        viewer=viewer,
        page="kpis",
        title="KPIs",
        trend=found,
        span=span,
        spans=SPANS,
        valued=valued,
        kudos_chart=week_chart(found.weeks, "kudos"),
        kpi_chart=week_chart(found.weeks, "value" if valued else "events"),
        number=number,
        least=least,
        times=times,
    )


def routes(d: Dashboard) -> list[BaseRoute]:
    """The page, behind sign-in and its roles (`ACCESS`)."""
    page = d.guarded("kpis")(partial(kpis_page, d))
    return [Route("/kpis", page, methods=["GET"], name="kpis")]

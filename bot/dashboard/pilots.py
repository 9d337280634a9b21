"""The pilots page: the pilot cohort against the control cohort, before and after the start,
as a difference-in-differences with the people behind each figure and its limits."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.dashboard.auth import Viewer
from handlers import pilots, pilots_kept
from handlers.collaboration import threshold
from handlers.pilots import Figure

if TYPE_CHECKING:
    from bot.dashboard.core import Dashboard


def _share(metric: str) -> bool:
    return metric.startswith("share") or metric == "survey participation"


def shown(figure: Figure, metric: str) -> str:
    """A figure as the table shows it: held back, missing, a share or a number."""
    if figure.held:
        return "not shown"
    if figure.value is None:
        return "none"
    if _share(metric):
        return f"{figure.value:.0%}"
    return f"{figure.value:.1f}" if metric.startswith("eNPS") else f"{figure.value:.2f}"


def change(value: float | None, metric: str) -> str:
    if value is None:
        return "none"
    if _share(metric):
        return f"{value * 100:+.0f} points"
    return f"{value:+.1f}" if metric.startswith("eNPS") else f"{value:+.2f}"


async def pilots_page(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    rollout = d.runtime.policy.rollout
    today = d.runtime.clock.now().date()
    least = threshold(d.runtime.surveys)
    found, as_of = None, None
    if rollout is not None:

        def read(s: Session) -> tuple[pilots.Comparison | None, datetime | None]:
            kept = pilots_kept.kept(s, rollout, today=today, least=least)
            if kept is not None:
                return kept
            return pilots.compare(s, rollout, today=today, least=least), None

        found, as_of = await d.runtime.run(read)
    return d.render(
        request,
        "pilots.html",
        viewer=viewer,
        page="pilots",
        title="Pilots",
        comparison=found,
        as_of=as_of,
        cohorts=rollout.cohorts if rollout is not None else (),
        least=least,
        shown=shown,
        change=change,
    )


def routes(d: Dashboard) -> list[BaseRoute]:
    """The page, behind sign-in and its roles (`ACCESS`)."""
    page = d.guarded("pilots")(partial(pilots_page, d))
    return [Route("/pilots", page, methods=["GET"], name="pilots")]

"""The dashboard's pages: leaderboard, recognition feed, reviews, PV cases (the audit trail
is `audit_trail`)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.dashboard import queries, visible
from bot.dashboard.auth import ADMIN, MANAGER, SAFETY, Viewer, base_path
from bot.dashboard.charts import board_chart
from handlers import retraction, review, safety
from handlers.events import Person
from handlers.policy import KudosPolicy

if TYPE_CHECKING:
    from bot.dashboard.core import Dashboard

PAGE_SIZE = 20
BOARD_TOP = 50
CHART_ROWS = 10


async def leaderboard(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    sprint = d.sprint(request)
    if isinstance(sprint, str):
        return d.problem(
            request, 404, "No such sprint", f"There is no sprint {sprint}.", viewer=viewer
        )
    filters = d.filters(request)
    exclude = d.runtime.boards.exclude
    boards = None
    workspace = d.workspace(request, viewer)
    top = visible.places(viewer, d.config)
    if sprint is not None:
        chosen = sprint
        # A viewer who sees only the top needs the whole board to find their own row.
        read = None if top else BOARD_TOP
        boards = await d.runtime.run(
            lambda s: queries.boards(s, chosen, filters, exclude, read, workspace)
        )
        if top:
            boards = replace(
                boards,
                people=visible.top_and_own(boards.people, min(top, BOARD_TOP), viewer),
                teams=visible.top_and_own(boards.teams, min(top, BOARD_TOP), viewer),
            )
    choices = boards.choices if boards else await d.runtime.run(queries.choices)
    query = {
        k: v
        for k, v in {
            "sprint": request.query_params.get("sprint"),
            "workspace": request.query_params.get("workspace") if workspace else None,
            **vars(filters),
        }.items()
        if v
    }
    return d.render(
        request,
        "leaderboard.html",
        viewer=viewer,
        page="leaderboard",
        title="Leaderboard",
        sprint=sprint,
        sprints=d.sprint_choices(sprint),
        filters=filters,
        choices=choices,
        values=d.runtime.policy.values,
        boards=boards,
        workspace=workspace,
        top=top,
        own=lambda board, row: visible.own(board, row, viewer),
        chart=board_chart(boards.people.rows[:CHART_ROWS]) if boards else None,
        export_query="&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items()),
    )


async def feed(
    d: Dashboard,
    request: Request,
    viewer: Viewer,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    page = request.query_params.get("page", "1")
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    mine = request.query_params.get("scope") == "org"
    if mine and MANAGER not in viewer.roles:
        return d.problem(
            request, 403, "Not allowed", "Only managers have a My org view.", viewer=viewer
        )
    manager = viewer.account.id if mine else None
    workspace = d.workspace(request, viewer)
    items, more = await d.runtime.run(
        lambda s: queries.feed(
            s, page=number, size=PAGE_SIZE, manager_id=manager, workspace=workspace
        )
    )
    retracted = request.query_params.get("retracted", "")
    return d.render(
        request,
        "feed.html",
        viewer=viewer,
        page="feed",
        status=status,
        error=error,
        done=f"Kudos #{int(retracted)} taken back." if retracted.isdigit() else None,
        admin=ADMIN in viewer.roles,
        title="My org's recognitions" if mine else "Recognition feed",
        items=items,
        number=number,
        more=more,
        mine=mine,
        manager=MANAGER in viewer.roles,
        workspace=workspace,
    )


async def reviews(
    d: Dashboard,
    request: Request,
    viewer: Viewer,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The queue. Buttons only where this viewer may decide: a reviewer, on kudos they
    neither gave nor sent for review; anyone else sees the queue read-only."""
    reviewer, policy = Person.by_email(viewer.email, viewer.name), _review_policy(d)

    def load(s: Session) -> tuple[list[queries.Pending], dict[int, review.NotAllowed]]:
        return queries.pending_reviews(s), review.refusals(s, reviewer, policy)

    waiting, refused = await d.runtime.run(load)
    done = None
    decided, outcome = (
        request.query_params.get("decided", ""),
        request.query_params.get("status"),
    )
    if request.method == "GET" and decided.isdigit() and outcome in ("approved", "rejected"):
        done = f"Review #{int(decided)} {outcome}."
    return d.render(
        request,
        "reviews.html",
        viewer=viewer,
        page="reviews",
        status=status,
        title="Reviews",
        waiting=waiting,
        done=done,
        error=error,
        read_only=any(r.code == review.NOT_REVIEWER for r in refused.values()),
        own={i for i, r in refused.items() if r.code == review.OWN_TEXT},
    )


# How the dashboard answers a refused decision; nothing was changed in any case.
REFUSAL_STATUS = {
    review.NOT_REVIEWER: 403,
    review.OWN_TEXT: 403,
    review.NO_SUCH_REVIEW: 404,
    review.ALREADY_DECIDED: 409,
    review.NEEDS_REASON: 400,
}


async def decide(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    """Approve or reject, as the use case allows: who may decide is its rule, not a role."""
    if request.path_params["verdict"] not in ("approve", "reject"):
        return d.problem(request, 404, "Not found", "No such decision.", viewer=viewer)
    fields = await d.form(request, viewer)
    if isinstance(fields, Response):
        return fields
    review_id = int(request.path_params["review_id"])
    approve = request.path_params["verdict"] == "approve"
    reason = (fields.get("reason") or "").strip()
    reviewer, policy = Person.by_email(viewer.email, viewer.name), _review_policy(d)
    now = d.runtime.clock.now()
    result = await d.runtime.run(
        lambda s: review.decide(
            review_id,
            reviewer,
            approve=approve,
            reason=reason or None,
            session=s,
            policy=policy,
            now=now,
        )
    )
    if isinstance(result, review.NotAllowed):
        error = result.message
        if result.code == review.NEEDS_REASON and not reason:
            error = f"Review #{review_id}: say why it is rejected, so the giver can learn."
        status = REFUSAL_STATUS.get(result.code, 409)
        return await reviews(d, request, viewer, error=error, status=status)
    d.runtime.poke()
    return RedirectResponse(
        f"{base_path(request)}/reviews?decided={result.review_id}&status={result.status}",
        status_code=303,
    )


RETRACT_STATUS = {"unknown": 404, "already": 409, "not_published": 409}


async def retract(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    """An admin takes a published kudos back (`handlers.retraction`): off every board, its
    messages deleted, audited under the admin's name."""
    fields = await d.form(request, viewer)
    if isinstance(fields, Response):
        return fields
    number = int(request.path_params["recognition_id"])
    reason = (fields.get("reason") or "").strip() or None
    result = await d.runtime.run(
        lambda s: retraction.retract(
            number,
            None,
            session=s,
            policy=d.runtime.policy,
            clock=d.runtime.clock,
            reason=reason,
            admin=f"dashboard:{viewer.email}",
        )
    )
    if isinstance(result, retraction.NotRetracted):
        status = RETRACT_STATUS.get(result.code, 409)
        return await feed(d, request, viewer, error=result.message, status=status)
    d.runtime.poke()
    return RedirectResponse(f"{base_path(request)}/feed?retracted={number}", status_code=303)


def _review_policy(d: Dashboard) -> KudosPolicy:
    """The kudos policy with the dashboard's configured reviewers too (roster roles are
    the use case's own); being an admin makes nobody a reviewer."""
    extra = tuple(r for r in d.config.reviewers if r not in d.runtime.policy.reviewers)
    return replace(d.runtime.policy, reviewers=(*d.runtime.policy.reviewers, *extra))


async def pv(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    with_text = SAFETY in viewer.roles

    def load(session: Session) -> list[queries.Case]:
        cases = queries.pv_cases(session)
        if not with_text:
            return cases
        opened = safety.read_texts(
            session,
            [c.id for c in cases],
            policy=d.runtime.policy,
            reader=f"email:{viewer.email}",
            now=d.runtime.clock.now(),
        )
        return [replace(c, text=opened.get(c.id)) for c in cases]

    cases = await d.runtime.run(load)
    return d.render(
        request,
        "pv.html",
        viewer=viewer,
        page="pv",
        title="PV cases",
        cases=cases,
        with_text=with_text,
    )

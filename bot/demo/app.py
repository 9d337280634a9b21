"""`plaudit demo`: Larkspur Pharma in a separate database, a one-time sign-in link, and a
sandbox page that gives kudos and answers the pulse survey as any member, showing what the
bot would send to Slack and Teams."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot.demo import sandbox as demo_sandbox
from bot.demo.seed import ADMIN, MILESTONES, policy, seed
from bot.runtime import Runtime
from storage import directory
from storage.models import Member

__all__ = ["ADMIN", "MILESTONES", "OneTimeLink", "app", "pages", "policy", "seed"]
KUDOS_EXAMPLE = "@Ana Lopez thanks for the site activation email #site-activation"


@dataclass
class OneTimeLink:
    """The sign-in token printed at start-up: good once, in this process only."""

    token: str | None

    def use(self, given: str) -> bool:
        token, ok = self.token, False
        if token and given:
            ok = hmac.compare_digest(token.encode(), given.encode())
        if ok:
            self.token = None
        return ok


def pages(link: OneTimeLink, admin: str = ADMIN) -> Callable[[Any], list[BaseRoute]]:
    """The demo's routes on the dashboard: `/demo-login`, and `/sandbox` with its survey
    form posting to `/sandbox/survey`."""

    def build(d: Any) -> list[BaseRoute]:
        from bot.dashboard.app import Dashboard
        from bot.dashboard.auth import Viewer, base_path

        assert isinstance(d, Dashboard)
        d.extra_nav.append(("/sandbox", "Sandbox"))
        runtime = d.runtime

        async def demo_login(request: Request) -> Response:
            if not link.use(request.query_params.get("token", "")):
                return d.problem(
                    request,
                    403,
                    "Link used",
                    "This sign-in link has been used or is not valid. Restart plaudit demo "
                    "for a new one.",
                )
            response = RedirectResponse(f"{base_path(request)}/", status_code=303)
            d.sessions.write(response, request, sid=d.sessions.new_sid(), email=admin)
            return response

        def roster_of(s: Session) -> list[Member]:
            return directory.active_with_email(session=s)

        async def show(
            request: Request, viewer: Viewer, *, status: int = 200, **given: Any
        ) -> Response:
            members = await runtime.run(roster_of)
            now = runtime.clock.now()
            form = await runtime.run(lambda s: demo_sandbox.survey_form(s, now))
            context: dict[str, Any] = {
                "chosen": viewer.email,
                "text": KUDOS_EXAMPLE,
                "result": None,
                "respondent": viewer.email,
                "answers": {},
                "survey": form,
                "survey_result": None,
            }
            return d.render(
                request,
                "sandbox.html",
                viewer=viewer,
                status=status,
                title="Sandbox",
                members=[(m.email, f"{m.display_name} ({m.team or 'no team'})") for m in members],
                **(context | given),
            )

        async def sandbox(request: Request, viewer: Viewer) -> Response:
            if request.method != "POST":
                return await show(request, viewer)
            fields = await d.form(request, viewer)
            if isinstance(fields, Response):
                return fields
            chosen = (fields.get("giver") or "").strip().lower()
            text = (fields.get("text") or "")[: demo_sandbox.MAX_TEXT]
            members = await runtime.run(roster_of)
            giver = next((m for m in members if m.email == chosen), None)
            if giver is None:
                result = {"kind": "refused", "answer": "Pick a member to give."}
                return await show(
                    request, viewer, status=400, chosen=chosen, text=text, result=result
                )
            result = await demo_sandbox.give(runtime, giver, text, members)
            return await show(request, viewer, chosen=chosen, text=text, result=result)

        async def survey(request: Request, viewer: Viewer) -> Response:
            fields = await d.form(request, viewer)
            if isinstance(fields, Response):
                return fields
            chosen = (fields.get("respondent") or "").strip().lower()
            answers = {k: v for k, v in fields.items() if k.startswith("q_")}
            now = runtime.clock.now()
            form = await runtime.run(lambda s: demo_sandbox.survey_form(s, now))
            members = await runtime.run(roster_of)
            member = next((m for m in members if m.email == chosen), None)
            if form is None or member is None:
                why = "No survey round is open." if form is None else "Pick a member to answer as."
                status = 409 if form is None else 400
                result = {"kind": "refused", "told": [demo_sandbox.refusal(why)]}
            else:
                result = await demo_sandbox.answer(runtime, member, form, answers)
                status = 400 if result["kind"] == "empty" else 200
            return await show(
                request,
                viewer,
                status=status,
                respondent=chosen,
                answers=answers,
                survey_result=result,
            )

        return [
            Route("/demo-login", demo_login, methods=["GET"]),
            Route("/sandbox", d.guarded("feed")(sandbox), methods=["GET", "POST"]),
            Route("/sandbox/survey", d.guarded("feed")(survey), methods=["POST"]),
        ]

    return build


def app(runtime: Runtime, *, secret: str, link: OneTimeLink) -> Starlette:
    """The dashboard with the demo's pages at /dashboard; `/` leads there. Nothing is sent:
    there is no outbox dispatcher. The milestones shown are Larkspur's, the ones its store
    was synced against."""
    from bot.dashboard import DashboardConfig, dashboard_app

    runtime.milestones = MILESTONES
    config = DashboardConfig(
        secret_key=secret,
        secure_cookies=False,  # plain HTTP on 127.0.0.1
        admins=(*runtime.admins, ADMIN),
        reviewers=tuple(r for r in runtime.policy.reviewers if "@" in r),
        safety=runtime.safety,
    )

    async def home(_: Request) -> Response:
        return RedirectResponse("/dashboard/", status_code=303)

    return Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            Mount("/dashboard", app=dashboard_app(runtime, config, extra=pages(link))),
        ]
    )

"""`plaudit demo`: Larkspur Pharma in a separate database, one-time sign-in links, and a
sandbox page that gives kudos and answers the pulse survey as any member, showing what the
bot would send to Slack and Teams."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlmodel import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot.demo import sandbox as demo_sandbox
from bot.demo.seed import ADMIN, MILESTONES, PULSE, policy, seed
from bot.runtime import Runtime
from handlers import signin_links
from storage import directory
from storage.models import Member

__all__ = [
    "ADMIN",
    "MILESTONES",
    "NEW_LINK",
    "OneTimeLink",
    "app",
    "issue_link",
    "pages",
    "policy",
    "seed",
]
KUDOS_EXAMPLE = "@Ana Lopez thanks for the site activation email #site-activation"
LINK_MINUTES = signin_links.MAX_MINUTES
SIGN_IN = "demo.sign_in"
NEW_LINK = (
    "For a new one-time sign-in link, run plaudit demo --link in another terminal (with the "
    "same --port and --db as the running demo) and open the link it prints."
)


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


def issue_link(runtime: Runtime, secret: str, *, minutes: int = LINK_MINUTES) -> str:
    """A one-time sign-in token for the demo's administrator (audited like any other), that
    the demo serving the same database with the same secret accepts once."""
    now = runtime.clock.now()
    key = signin_links.link_key(secret)
    issued = runtime.run_sync(
        lambda s: signin_links.issue(ADMIN, session=s, key=key, now=now, minutes=minutes)
    )
    if isinstance(issued, str):
        raise RuntimeError(f"demo sign-in link: {issued}")
    return issued.token


def pages(link: OneTimeLink | None = None, admin: str = ADMIN) -> Callable[[Any], list[BaseRoute]]:
    """The demo's routes on the dashboard: `/demo-login` (a link printed by `plaudit demo`
    or `plaudit demo --link`), and `/sandbox` with its survey form posting to
    `/sandbox/survey`."""

    def build(d: Any) -> list[BaseRoute]:
        from bot.dashboard import links
        from bot.dashboard.app import Dashboard
        from bot.dashboard.auth import Viewer, base_path, safe_next

        assert isinstance(d, Dashboard)
        d.extra_nav.append(("/sandbox", "Sandbox"))
        runtime = d.runtime

        async def demo_login(request: Request) -> Response:
            if link is not None and link.use(request.query_params.get("token", "")):
                response = RedirectResponse(f"{base_path(request)}/", status_code=303)
                d.sessions.write(response, request, sid=d.sessions.new_sid(), email=admin)
                return response
            return await links.redeem(d, request, ask_again=NEW_LINK)

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

        async def sign_in(request: Request) -> Response:
            found = await d.identify(request)
            if isinstance(found, Response):
                return found
            if found is not None:
                target = safe_next(request, request.query_params.get("next"))
                return RedirectResponse(target, status_code=303)
            return d.problem(request, 401, "Sign in", NEW_LINK)

        return [
            Route("/login", sign_in, methods=["GET"], name=SIGN_IN),
            Route("/demo-login", demo_login, methods=["GET"]),
            Route("/sandbox", d.guarded("feed")(sandbox), methods=["GET", "POST"]),
            Route("/sandbox/survey", d.guarded("feed")(survey), methods=["POST"]),
        ]

    return build


def app(runtime: Runtime, *, secret: str, link: OneTimeLink | None = None) -> Starlette:
    """The dashboard with the demo's pages at /dashboard; `/` leads there. Nothing is sent:
    there is no outbox dispatcher. The milestones and the pulse survey shown are Larkspur's
    (the store was synced against those milestones; the survey's rounds are in the
    database). Its sign-in page says how to get a new one-time link, since the demo has no
    single sign-on."""
    from bot.dashboard import DashboardConfig, dashboard_app

    runtime.milestones = MILESTONES
    if runtime.survey(PULSE.id) is None:
        runtime.surveys = (*runtime.surveys, PULSE)
    config = DashboardConfig(
        secret_key=secret,
        secure_cookies=False,  # plain HTTP on 127.0.0.1
        admins=(*runtime.admins, ADMIN),
        reviewers=tuple(r for r in runtime.policy.reviewers if "@" in r),
        safety=runtime.safety,
        members_see_top=runtime.members_see_top,
    )

    async def home(_: Request) -> Response:
        return RedirectResponse("/dashboard/", status_code=303)

    dashboard = dashboard_app(runtime, config, extra=pages(link))
    # The demo's sign-in page goes before the dashboard's own (which speaks of single sign-on).
    routes = dashboard.router.routes
    routes.sort(key=lambda r: getattr(r, "name", None) != SIGN_IN)
    return Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            Mount("/dashboard", app=dashboard),
        ],
        lifespan=partial(_sealing, runtime),
    )


@contextlib.asynccontextmanager
async def _sealing(runtime: Runtime, _: Starlette) -> AsyncIterator[None]:
    """The audit trail is sealed as a real installation's is (its checkpoints to the log)."""
    if runtime.audit_key is None:
        yield
        return
    from bot.audit.checkpoints import Publisher
    from bot.jobs.sealer import Sealer

    sealer = Sealer(runtime, runtime.audit_key, Publisher())
    sealer.start()
    try:
        yield
    finally:
        await sealer.stop()

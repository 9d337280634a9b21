"""Signing in to the dashboard with a one-time link printed on the server's console
(`plaudit dashboard link --as EMAIL`, or `plaudit demo --link`): no single sign-on needed."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.dashboard.auth import base_path
from handlers import signin_links

if TYPE_CHECKING:
    from bot.dashboard.core import Dashboard

log = logging.getLogger("plaudit.dashboard")

ASK_AGAIN = (
    "Ask your Plaudit administrator for a new one: on the server, "
    "plaudit dashboard link --as YOUR-EMAIL prints it."
)
WHY = {
    "invalid": "This sign-in link is not valid (it may have been cut short when copied).",
    "expired": "This sign-in link has expired.",
    "used": "This sign-in link has been used already; each link signs in once.",
    "not_allowed": "This sign-in link is for someone who is no longer allowed to sign in here.",
}


def listed(d: Dashboard) -> tuple[str, ...]:
    """The emails the dashboard's configuration gives a restricted role."""
    reviewers = tuple(r for r in d.runtime.policy.reviewers if "@" in r)
    return (*d.config.admins, *d.config.reviewers, *d.config.safety, *reviewers)


async def redeem(d: Dashboard, request: Request, *, ask_again: str = ASK_AGAIN) -> Response:
    """`GET ?token=`: a session for the link's member, once; otherwise why not and how to
    get a new link."""
    token = request.query_params.get("token", "")
    key = signin_links.link_key(d.config.secret_key)
    now = d.runtime.clock.now()
    emails = listed(d)
    result = await d.runtime.run(
        lambda s: signin_links.redeem(token, session=s, key=key, now=now, listed=emails)
    )
    if isinstance(result, signin_links.NotSignedIn):
        return d.problem(
            request, 403, "Sign-in link not valid", f"{WHY[result.reason]} {ask_again}"
        )
    log.info("dashboard sign-in of member %s with a one-time link", result.member_id)
    response = RedirectResponse(f"{base_path(request)}/", status_code=303)
    d.sessions.write(response, request, sid=d.sessions.new_sid(), email=result.email)
    return response


def routes(d: Dashboard) -> list[BaseRoute]:
    """`/link`, to add to the dashboard's routes (`dashboard_app(..., extra=routes)`)."""
    return [Route("/link", partial(redeem, d), methods=["GET"], name="link")]

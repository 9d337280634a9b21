"""Signing in to the dashboard (OpenID Connect, or a trusted proxy's header) and out."""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.dashboard import queries
from bot.dashboard.auth import EMAIL, SIGNED_OUT, safe_next, signed_out_key
from bot.dashboard.oidc import OidcError, TokenRejected
from storage.queries import claim_inbound

if TYPE_CHECKING:
    from bot.dashboard.core import Dashboard

log = logging.getLogger("plaudit.dashboard")


async def login(d: Dashboard, request: Request) -> Response:
    found = await d.identify(request)
    if isinstance(found, Response):
        return found
    target = safe_next(request, request.query_params.get("next"))
    if found is not None:
        response: Response = RedirectResponse(target, status_code=303)
        if found.issue_cookie:
            d.sessions.write(response, request, sid=found.sid, email=found.email)
        return response
    if d.oidc is None:
        return d.problem(
            request,
            401,
            "Sign in",
            "Sign in through your organisation's single sign-on: open Plaudit through "
            "its sign-in proxy, or ask your administrator to set up OpenID Connect.",
        )
    try:
        started = await d.oidc.start()
    except OidcError as exc:
        log.warning("OIDC sign-in could not start: %s", exc)
        return d.problem(
            request, 502, "Sign-in unavailable", "The sign-in provider cannot be reached."
        )
    response = RedirectResponse(started.url, status_code=302)
    d.sessions.write_oidc(
        response,
        request,
        {
            "state": started.state,
            "nonce": started.nonce,
            "verifier": started.verifier,
            "next": target,
        },
    )
    return response


async def callback(d: Dashboard, request: Request) -> Response:
    if d.oidc is None:
        return d.problem(request, 404, "Not found", "Sign-in is not set up here.")
    pending = d.sessions.read_oidc(request)
    state = request.query_params.get("state", "")
    expected = str(pending.get("state", "")) if pending else ""
    response: Response
    if not state or not expected or not hmac.compare_digest(state.encode(), expected.encode()):
        response = d.problem(
            request,
            400,
            "Sign-in expired",
            "This sign-in is not valid or has expired.",
            sign_in=True,
        )
        d.sessions.clear_oidc(response, request)
        return response
    assert pending is not None
    email, why = await _signed_in_email(d, request, pending)
    if email is None:
        response = d.problem(request, 403, "Sign-in refused", why, sign_in=True)
        d.sessions.clear_oidc(response, request)
        return response
    account = await d.runtime.run(lambda s: queries.account(s, email))
    if account is None:
        response = d.problem(
            request,
            403,
            "Not a member",
            "You signed in, but not as an active member of Plaudit. "
            "Ask your Plaudit administrator to add you to the roster.",
        )
        d.sessions.clear_oidc(response, request)
        return response
    log.info("dashboard sign-in of member %s", account.id)
    response = RedirectResponse(safe_next(request, pending.get("next")), status_code=303)
    d.sessions.write(response, request, sid=d.sessions.new_sid(), email=account.email)
    d.sessions.clear_oidc(response, request)
    return response


async def _signed_in_email(
    d: Dashboard, request: Request, pending: dict[str, Any]
) -> tuple[str | None, str]:
    assert d.oidc is not None
    error = request.query_params.get("error")
    if error:
        return None, f"The sign-in provider answered: {error[:100]}"
    code = request.query_params.get("code")
    if not code:
        return None, "The sign-in provider sent no authorization code."
    try:
        claims = await d.oidc.finish(
            code, verifier=str(pending.get("verifier", "")), nonce=str(pending.get("nonce", ""))
        )
    except TokenRejected as exc:
        log.warning("OIDC sign-in refused: %s", exc)
        return None, "The sign-in could not be verified."
    except OidcError as exc:
        log.warning("OIDC sign-in failed: %s", exc)
        return None, "The sign-in provider could not be reached."
    email = claims.get("email")
    if not isinstance(email, str) or not EMAIL.match(email):
        return None, "The sign-in provider did not say who you are (no email)."
    if claims.get("email_verified") is False:
        return None, "The sign-in provider has not verified your email address."
    return email.strip().lower(), ""


async def logout(d: Dashboard, request: Request) -> Response:
    found = await d.identify(request)
    if isinstance(found, Response):
        return found
    if found is None:
        return d.problem(request, 200, "Signed out", "You are signed out.", sign_in=True)
    fields = await d.form(request, found)
    if isinstance(fields, Response):
        return fields
    # Recorded server-side: the cookie is signed and would stay valid for its 8 hours if a
    # copy of it were replayed; the dashboard's mount refuses a signed-out session's cookie.
    d.sessions.sign_out(found.sid)
    key = signed_out_key(found.sid)
    await d.runtime.run(lambda s: claim_inbound(session=s, key=key, kind=SIGNED_OUT))
    text = "You are signed out."
    if d.config.proxy_header:
        text += " Your single sign-on proxy may sign you in again on your next visit."
    response = d.problem(request, 200, "Signed out", text, sign_in=True)
    d.sessions.clear(response, request)
    return response

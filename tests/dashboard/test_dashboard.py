"""The web dashboard over HTTP: sign-in (proxy header, OIDC), sessions, roles, CSRF, pages,
escaping, the feed and the manager's org view, reviews, CSV exports and their audit trail."""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from bot.dashboard import DashboardConfig, OidcConfig, dashboard_app
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers import kudos, milestones, roster, sprints, surveys
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.exports import cell
from handlers.milestones import Milestone
from handlers.policy import KudosPolicy
from storage.audit import AuditKey, seal_all
from storage.models import AuditEntry, BcOrder, Member, Outbox, PvCase, Recognition, Review
from storage.vault import Vault
from tests.fakes.oidc import FakeOidc
from tests.harness import AUDIT_KEY, PV_KEY, audit_proof, run_uvicorn

SECRET = "dashboard-test-secret-0123456789abcdef"
SALT = "plaudit.dashboard.session"
HEADER = "X-Forwarded-Email"
POLICY = KudosPolicy(
    recognition_channel="C0KUDOS",
    review_channel="C0REVIEW",
    reviewers=("ray@example.com",),
    pv_vault=Vault.parse(PV_KEY),
)
XSS = "<script>alert(1)</script>"
PEOPLE: dict[str, dict[str, str]] = {
    "mia": {"display_name": "Mia", "team": "Brand", "region": "EU"},
    "alice": {"display_name": "Alice", "slack_id": "U0A001", "manager_email": "mia@example.com",
              "team": "Brand", "region": "EU", "therapeutic_area": "Oncology"},
    "bob": {"display_name": "Bob", "slack_id": "U0B002", "manager_email": "mia@example.com",
            "team": "Digital", "region": "US", "therapeutic_area": "Cardiology"},
    "carol": {"display_name": "Carol", "manager_email": "bob@example.com", "team": "Brand",
              "region": "EU"},
    "dan": {"display_name": "Dan", "team": "Digital", "region": "US"},
    "eve": {"display_name": f"{XSS}Eve", "team": "Digital", "region": "US"},
    "rae": {"display_name": "Rae", "roles": "reviewer"},
    "ray": {"display_name": "Ray"},
    "ada": {"display_name": "Ada"},
    "sam": {"display_name": "Sam", "roles": "safety"},
    "sue": {"display_name": "Sue"},
    "leo": {"display_name": "Leo"},
}  # fmt: skip
HELD = "great idea to show Cardivex in pregnancy at the booth"
BLOCKED = "the Oncozol email calls it the best treatment"
PV_TEXT = "thanks for the call where the caller's husband was hospitalized while taking Somnira"
FORMULA = '=HYPERLINK("http://evil.example","x") thanks for the launch checklist'


def email(name: str) -> str:
    return f"{name}@example.com"


def person(name: str) -> Person:
    return Person("email", None, email(name), PEOPLE[name]["display_name"], email=email(name))


# -- the running dashboard --------------------------------------------------------------------


@dataclass
class Site:
    """The dashboard mounted at /dashboard of a Starlette app, served by uvicorn on loopback."""

    runtime: Runtime
    config: DashboardConfig
    base_url: str = ""
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    def start(self) -> Site:
        app = Starlette(routes=[Mount("/dashboard", app=dashboard_app(self.runtime, self.config))])
        self.server, self.thread, self.base_url = run_uvicorn(app, lifespan="off")
        return self

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=15)

    def client(self, as_: str | None = None, *, source: str = "127.0.0.1") -> httpx.Client:
        """A browser; `as_` signs in through the proxy header, sent from `source`."""
        headers = {HEADER: email(as_)} if as_ else {}
        client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=10,
            transport=httpx.HTTPTransport(local_address=source),
        )
        self.clients.append(client)
        return client


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, "no CSRF token on the page"
    return found.group(1)


def giving(
    event: KudosRequested, runtime: Runtime, clock: FixedClock
) -> Callable[[Session], kudos.KudosResult]:
    def work(s: Session) -> kudos.KudosResult:
        return kudos.give(event, session=s, policy=POLICY, clock=clock, rules=runtime.rules)

    return work


def seed(runtime: Runtime, clock: FixedClock) -> dict[str, int]:
    """The roster, then kudos through the real use case: published, held, blocked, PV."""

    def import_roster(s: Session) -> None:
        rows = [
            roster.Row(i + 2, {"email": email(name), **values})
            for i, (name, values) in enumerate(PEOPLE.items())
        ]
        report = roster.import_rows(rows, session=s, now=clock.now())
        assert not report.rejected, report.rejected

    runtime.run_sync(import_roster)
    runtime.run_sync(lambda s: roster.deactivate(email("leo"), session=s, now=clock.now()))
    gifts = {
        "site": ("alice", ["bob"], "for the site activation email #site-activation"),
        "deck": ("dan", ["rae", "eve"], "thanks for the great launch deck review"),
        "xss": ("carol", ["alice"], f"{XSS} thanks for the portal copy review"),
        "eve": ("eve", ["bob", "dan"], "thanks for untangling the congress booking"),
        "held": ("alice", ["bob"], HELD),
        "blocked": ("bob", ["alice"], BLOCKED),
        "pv": ("dan", ["bob"], PV_TEXT),
        "formula": ("mia", ["carol"], FORMULA),
        "revoked": ("mia", ["dan"], "thanks for the quarterly newsletter layout"),
    }
    ids: dict[str, int] = {}
    for key, (giver, to, message) in gifts.items():
        clock.advance(minutes=1)
        values = ("#site-activation",) if "#site-activation" in message else ()
        event = KudosRequested(
            key=f"seed:{key}",
            giver=person(giver),
            recipients=tuple(person(r) for r in to),
            message=message,
            values=values,
            source="cli",
        )
        result = runtime.run_sync(giving(event, runtime, clock))
        assert isinstance(result, kudos.Recorded | kudos.Stopped), (key, result)
        ids[key] = result.recognition_id

    def outcomes(s: Session) -> dict[str, str]:
        found = {r.id: r.outcome for r in s.exec(select(Recognition))}
        return {key: found[i] for key, i in ids.items()}

    assert runtime.run_sync(outcomes) == {
        **dict.fromkeys(("site", "deck", "xss", "eve", "formula", "revoked"), "pass"),
        "held": "hold",
        "blocked": "block",
        "pv": "route_pv",
    }

    def revoke(s: Session) -> None:  # as taking back a reaction kudos does
        s.connection().execute(
            text("UPDATE recognition SET revoked_at = created_at WHERE id = :id"),
            {"id": ids["revoked"]},
        )
        sprints.tally_recognition(s, POLICY.sprints, ids["revoked"], sign=-1)

    runtime.run_sync(revoke)
    return ids


@dataclass
class World:
    runtime: Runtime
    clock: FixedClock
    ids: dict[str, int]
    serve: Callable[..., Site]
    pokes: list[int]

    def db(self) -> Session:
        return Session(self.runtime.engine, expire_on_commit=False)


@pytest.fixture
def world(file_engine: Engine) -> Iterator[World]:
    clock = FixedClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    runtime = Runtime(engine=file_engine, policy=POLICY, rules=default_rules(), clock=clock)
    pokes: list[int] = []
    runtime.listeners.append(lambda: pokes.append(1))
    ids = seed(runtime, clock)
    sites: list[Site] = []
    base = DashboardConfig(
        secret_key=SECRET,
        proxy_header=HEADER,
        secure_cookies=False,
        admins=(email("ada"),),
        safety=(email("sue"),),
    )

    def serve(**changes: Any) -> Site:
        site = Site(runtime, replace(base, **changes)).start()
        sites.append(site)
        return site

    try:
        yield World(runtime, clock, ids, serve, pokes)
    finally:
        for site in sites:
            site.stop()
        if runtime._commits is not None:
            runtime._commits.stop()
            runtime._commits = None


# -- signing in -------------------------------------------------------------------------------


SAMPLE = {"review_id": "1", "verdict": "approve", "survey_id": "pulse", "recognition_id": "1"}


# Routes that sign in or out (a one-time link answers 403 without a valid token).
SIGN_IN_ROUTES = ("/login", "/auth/callback", "/logout", "/link")


def test_pages_redirect_to_sign_in_and_exports_answer_401(world: World) -> None:
    site = world.serve()
    anonymous = site.client()
    page = anonymous.get("/dashboard/feed?page=2")
    assert page.status_code == 303
    assert page.headers["location"] == "/dashboard/login?next=%2Fdashboard%2Ffeed%3Fpage%3D2"
    # Every route but signing in and out: pages redirect, exports and forms answer 401.
    checked = 0
    for route in dashboard_app(world.runtime, DashboardConfig(secret_key=SECRET)).routes:
        if not isinstance(route, Route) or route.path in SIGN_IN_ROUTES:
            continue
        path = "/dashboard" + re.sub(r"\{(\w+):\w+\}", lambda m: SAMPLE[m.group(1)], route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            status = anonymous.request(method, path).status_code
            expected = 401 if method == "POST" or "/export/" in path else 303
            assert status == expected, (method, path, status)
            checked += 1
    assert checked >= 12
    # Without OIDC, the sign-in page explains how to sign in instead.
    login = anonymous.get("/dashboard/login")
    assert login.status_code == 401 and "single sign-on" in login.text


def test_proxy_header_signs_in_only_from_a_trusted_address_and_only_members(
    world: World,
) -> None:
    site = world.serve()
    trusted = site.client("alice")
    page = trusted.get("/dashboard/")
    assert page.status_code == 200 and "Alice" in page.text
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie
    assert "Max-Age=28800" in cookie

    spoofed = site.client("alice", source="127.0.0.2")
    refused = spoofed.get("/dashboard/")
    assert refused.status_code == 303 and "/dashboard/login" in refused.headers["location"]
    assert "set-cookie" not in refused.headers
    assert spoofed.get("/dashboard/export/leaderboard.csv").status_code == 401

    for stranger in ("nobody", "leo"):  # unknown, and deactivated
        answer = site.client(stranger).get("/dashboard/")
        assert answer.status_code == 403 and "Not a member" in answer.text
        assert "set-cookie" not in answer.headers

    secure = world.serve(secure_cookies=True).client("alice").get("/dashboard/")
    assert "Secure" in secure.headers["set-cookie"]


def test_sessions_are_signed_and_expire(world: World) -> None:
    site = world.serve(proxy_header=None)

    def with_cookie(value: str) -> httpx.Response:
        client = site.client()
        client.cookies.set("plaudit_dashboard", value, domain="127.0.0.1", path="/dashboard")
        return client.get("/dashboard/feed")

    fresh = URLSafeTimedSerializer(SECRET, salt=SALT)
    ok = with_cookie(fresh.dumps({"sid": "s1", "email": email("bob")}))
    assert ok.status_code == 200 and "Bob" in ok.text
    forged = URLSafeTimedSerializer("another-secret-0123456789abcdef", salt=SALT)
    assert with_cookie(forged.dumps({"sid": "s1", "email": email("ada")})).status_code == 303

    class Signed9HoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 9 * 3600  # longer ago than session_hours

    old = URLSafeTimedSerializer(SECRET, salt=SALT, signer=Signed9HoursAgo)
    assert with_cookie(old.dumps({"sid": "s1", "email": email("bob")})).status_code == 303


@pytest.fixture
def oidc() -> Iterator[FakeOidc]:
    with FakeOidc(email=email("alice")) as fake:
        yield fake


def _oidc_site(world: World, fake: FakeOidc) -> Site:
    provider = OidcConfig(
        issuer=fake.issuer,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        redirect_base_url="https://plaudit.example.com/dashboard",
    )
    return world.serve(proxy_header=None, oidc=provider)


def _through_provider(client: httpx.Client, *, next_path: str = "/dashboard/") -> httpx.Response:
    """Start at /login, let the provider answer, and bring its redirect back to the app."""
    start = client.get("/dashboard/login", params={"next": next_path})
    assert start.status_code == 302, start.text
    answer = httpx.get(start.headers["location"], timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlparse(answer.headers["location"])
    assert back.path == "/dashboard/auth/callback"
    return client.get(f"{back.path}?{back.query}")


def test_oidc_sign_in_end_to_end(world: World, oidc: FakeOidc) -> None:
    site = _oidc_site(world, oidc)
    browser = site.client()
    first = browser.get("/dashboard/feed")
    assert first.status_code == 303
    login = browser.get(first.headers["location"])
    assert login.status_code == 302
    sent = parse_qs(urlparse(login.headers["location"]).query)
    assert sent["response_type"] == ["code"] and sent["code_challenge_method"] == ["S256"]
    assert sent["redirect_uri"] == ["https://plaudit.example.com/dashboard/auth/callback"]
    assert sent["state"][0] and sent["nonce"][0] and "openid" in sent["scope"][0].split()
    assert "plaudit_dashboard_oidc" in login.headers["set-cookie"]

    answer = httpx.get(login.headers["location"], timeout=10)
    back = urlparse(answer.headers["location"])
    done = browser.get(f"{back.path}?{back.query}")
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/feed"
    (token_call,) = oidc.token_requests
    assert token_call["client_secret"] == oidc.client_secret and token_call["code_verifier"]
    feed = browser.get("/dashboard/feed")
    assert feed.status_code == 200 and "Alice" in feed.text

    # The code works once; a replayed callback signs nobody in.
    replayed = site.client()
    replayed.cookies.update(browser.cookies)
    assert replayed.get(f"{back.path}?{back.query}").status_code == 400

    out = browser.post("/dashboard/logout", data={"csrf": csrf_of(feed)})
    assert out.status_code == 200 and "signed out" in out.text
    assert browser.get("/dashboard/feed").status_code == 303


def test_oidc_refuses_bad_state_wrong_audience_nonce_key_and_strangers(
    world: World, oidc: FakeOidc
) -> None:
    site = _oidc_site(world, oidc)

    browser = site.client()
    start = browser.get("/dashboard/login")
    answer = httpx.get(start.headers["location"], timeout=10)
    back = urlparse(answer.headers["location"])
    code = parse_qs(back.query)["code"][0]
    bad_state = browser.get("/dashboard/auth/callback", params={"code": code, "state": "forged"})
    assert bad_state.status_code == 400
    assert oidc.token_requests == []  # refused before the code was used
    assert site.client().get(f"{back.path}?{back.query}").status_code == 400  # no cookie

    for knob, value in (("audience", "someone-else"), ("nonce", "another"), ("forge", True)):
        setattr(oidc, knob, value)
        browser = site.client()
        refused = _through_provider(browser)
        assert refused.status_code == 403 and "could not be verified" in refused.text, knob
        assert browser.get("/dashboard/").status_code == 303, knob
        setattr(oidc, knob, False if knob == "forge" else None)

    oidc.email = email("nobody")
    stranger = _through_provider(site.client())
    assert stranger.status_code == 403 and "Not a member" in stranger.text
    oidc.email, oidc.email_verified = email("alice"), False
    assert _through_provider(site.client()).status_code == 403

    oidc.email_verified = True
    assert (
        _through_provider(site.client(), next_path="https://evil.example/").headers["location"]
        == "/dashboard/"
    )


# -- roles, CSRF, escaping ----------------------------------------------------------------------


def test_who_may_open_what(world: World) -> None:
    site = world.serve()
    paths = {
        "board": "/dashboard/",
        "feed": "/dashboard/feed",
        "reviews": "/dashboard/reviews",
        "audit": "/dashboard/audit",
        "pv": "/dashboard/pv",
        "board.csv": "/dashboard/export/leaderboard.csv",
        "recognitions.csv": "/dashboard/export/recognitions.csv",
        "milestones": "/dashboard/milestones",
        "configuration": "/dashboard/configuration",
        "surveys": "/dashboard/surveys",
    }
    everyone = {"board", "feed", "board.csv", "milestones"}
    allowed = {
        "alice": everyone,  # a member
        "mia": everyone | {"surveys"},  # a manager
        "rae": everyone | {"reviews", "recognitions.csv"},  # roster reviewer
        "ray": everyone | {"reviews", "recognitions.csv"},  # plaudit.yaml
        "ada": set(paths),  # admin
        "sam": everyone | {"pv"},  # roster safety
        "sue": everyone | {"pv"},  # configured safety
    }
    for who, pages in allowed.items():
        client = site.client(who)
        for page, path in paths.items():
            status = client.get(path).status_code
            assert status == (200 if page in pages else 403), (who, page, status)
    nav = site.client("alice").get("/dashboard/").text
    assert "/dashboard/feed" in nav and "/dashboard/reviews" not in nav
    assert "/dashboard/audit" in site.client("ada").get("/dashboard/").text


def test_a_reviewer_approves_a_held_kudos_and_it_is_published(world: World) -> None:
    site = world.serve()
    rae = site.client("rae")
    page = rae.get("/dashboard/reviews")
    assert page.status_code == 200 and HELD in page.text
    with world.db() as s:
        pending = s.exec(select(Review).where(Review.status == "pending")).one()
    approved = rae.post(f"/dashboard/reviews/{pending.id}/approve", data={"csrf": csrf_of(page)})
    assert approved.status_code == 303
    shown = rae.get(approved.headers["location"])
    assert f"Review #{pending.id} approved." in shown.text and HELD not in shown.text

    held = world.ids["held"]
    with world.db() as s:
        assert s.get(Recognition, held).outcome == "pass"  # type: ignore[union-attr]
        review = s.get(Review, pending.id)
        assert review is not None and review.decided_by == "email:rae@example.com"
        keys = set(s.exec(select(Outbox.key)))
        assert f"recognition:{held}:public" in keys
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "review.approved")).one()
    assert world.pokes
    assert HELD in rae.get("/dashboard/feed").text
    again = rae.post(f"/dashboard/reviews/{pending.id}/approve", data={"csrf": csrf_of(page)})
    assert again.status_code == 409 and "already approved" in again.text


def test_rejecting_needs_a_reason_and_nothing_changes_without_one(world: World) -> None:
    site = world.serve()
    rae = site.client("rae")  # a reviewer by roster role, not in plaudit.yaml
    page = rae.get("/dashboard/reviews")
    with world.db() as s:
        pending = s.exec(select(Review).where(Review.status == "pending")).one()
    url = f"/dashboard/reviews/{pending.id}/reject"
    missing = rae.post(url, data={"csrf": csrf_of(page), "reason": "   "})
    assert missing.status_code == 400 and "say why it is rejected" in missing.text
    with world.db() as s:
        assert s.get(Review, pending.id).status == "pending"  # type: ignore[union-attr]
        assert s.get(Recognition, world.ids["held"]).outcome == "hold"  # type: ignore[union-attr]
    done = rae.post(url, data={"csrf": csrf_of(page), "reason": "Off-label use <b>here</b>"})
    assert done.status_code == 303
    with world.db() as s:
        review = s.get(Review, pending.id)
        assert review is not None and review.status == "rejected"
        assert review.reason == "Off-label use <b>here</b>"
        assert s.get(Recognition, world.ids["held"]).outcome == "hold"  # type: ignore[union-attr]


def test_posts_without_a_valid_csrf_token_are_refused(world: World) -> None:
    site = world.serve()
    rae = site.client("rae")
    page = rae.get("/dashboard/reviews")
    with world.db() as s:
        pending = s.exec(select(Review).where(Review.status == "pending")).one()
        audit_before = len(s.exec(select(AuditEntry)).all())
    url = f"/dashboard/reviews/{pending.id}/approve"
    other = csrf_of(site.client("ray").get("/dashboard/reviews"))  # another session's token
    attempts: list[dict[str, Any]] = [
        {"data": {}},
        {"data": {"csrf": "0" * 64}},
        {"data": {"csrf": other}},
        {"json": {"csrf": csrf_of(page)}},  # not a form
    ]
    for attempt in attempts:
        refused = rae.post(url, **attempt)
        assert refused.status_code == 403, attempt
    assert rae.post("/dashboard/logout", data={}).status_code == 403
    with world.db() as s:
        assert s.get(Review, pending.id).status == "pending"  # type: ignore[union-attr]
        assert len(s.exec(select(AuditEntry)).all()) == audit_before
    assert world.pokes == []
    assert rae.get("/dashboard/reviews").status_code == 200  # still signed in


def test_names_and_messages_are_escaped(world: World) -> None:
    site = world.serve()
    alice = site.client("alice")
    for path in ("/dashboard/feed", "/dashboard/"):
        page = alice.get(path)
        assert page.status_code == 200
        assert XSS not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path
        assert "<script" not in page.text.lower(), path
    assert XSS not in site.client("ada").get("/dashboard/audit").text


def test_security_headers_on_every_response(world: World) -> None:
    site = world.serve()
    alice = site.client("alice")
    responses = [
        site.client().get("/dashboard/"),  # redirect
        alice.get("/dashboard/"),
        alice.get("/dashboard/pv"),  # 403
        alice.get("/dashboard/nothing-here"),  # 404
        alice.get("/dashboard/export/leaderboard.csv"),
        alice.get("/dashboard/static/dashboard.css"),
    ]
    for response in responses:
        h = response.headers
        csp = h["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, response.url
        assert "script-src" not in csp and "unsafe-inline" not in csp
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "same-origin"
    assert responses[1].headers["cache-control"] == "no-store"
    assert responses[3].status_code == 404 and "<h1>" in responses[3].text
    assert responses[5].headers["content-type"].startswith("text/css")


# -- pages --------------------------------------------------------------------------------------


def test_the_feed_shows_only_published_recognitions_newest_first(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = world.serve()
    page = site.client("alice").get("/dashboard/feed").text
    published = [
        "thanks for the great launch deck review",
        "thanks for the portal copy review",
        "for the site activation email #site-activation",
        "thanks for untangling the congress booking",
        "thanks for the launch checklist",
    ]
    for message in published:
        assert message in page, message
    for hidden in (HELD, BLOCKED, PV_TEXT, "quarterly newsletter layout"):
        assert hidden not in page, hidden
    positions = [page.index(m) for m in ("launch checklist", "congress booking", "launch deck")]
    assert positions == sorted(positions)
    assert "#site-activation" in page and "Bob, Dan" in page

    monkeypatch.setattr("bot.dashboard.pages.PAGE_SIZE", 2)
    client = site.client("alice")
    first, second = client.get("/dashboard/feed").text, client.get("/dashboard/feed?page=2").text
    third = client.get("/dashboard/feed?page=3").text
    assert "launch checklist" in first and "congress booking" in first
    assert "portal copy" in second and 'rel="next"' in second and 'rel="prev"' in second
    assert "site activation email" in third and 'rel="next"' not in third


def test_a_manager_sees_their_org_and_others_may_not(world: World) -> None:
    site = world.serve()
    mia = site.client("mia")
    everyone = mia.get("/dashboard/feed")
    assert "My org" in everyone.text and "launch deck review" in everyone.text
    org = mia.get("/dashboard/feed?scope=org")
    assert org.status_code == 200
    assert "site activation email" in org.text  # Alice to Bob
    assert "portal copy review" in org.text  # Carol (Bob's report) to Alice
    assert "congress booking" in org.text  # Eve to Bob and Dan: Bob is in the org
    assert "launch deck review" not in org.text  # Dan to Rae and Eve: none is
    assert "launch checklist" in org.text  # Mia to Carol

    bob = site.client("bob").get("/dashboard/feed?scope=org")  # Bob manages Carol only
    assert "portal copy review" in bob.text and "site activation email" not in bob.text
    alice = site.client("alice")
    assert "My org" not in alice.get("/dashboard/feed").text
    assert alice.get("/dashboard/feed?scope=org").status_code == 403


def test_the_leaderboard_page_filters_and_draws_its_chart(world: World) -> None:
    site = world.serve()
    alice = site.client("alice")
    page = alice.get("/dashboard/")
    assert page.status_code == 200 and "Sprint 2026Q4" in page.text
    assert page.text.count("<h1>") == 1 and 'href="#main"' in page.text
    assert '<svg role="img"' in page.text and '<title id="chart-title">' in page.text
    assert '<th scope="row">Bob</th>' in page.text and '<label for="f-team">' in page.text
    bob_row = re.search(r'<th scope="row">Bob</th><td>(\d+)</td>', page.text)
    assert bob_row and bob_row.group(1) == "2"

    brand = alice.get("/dashboard/", params={"team": "brand"}).text
    assert '<th scope="row">Alice</th>' in brand and '<th scope="row">Bob</th>' not in brand
    valued = alice.get("/dashboard/", params={"value": "#site-activation"}).text
    assert (
        '<th scope="row">Bob</th><td>1</td>' in valued
        and "Carol" not in valued.split("<caption>People</caption>")[1].split("</table>")[0]
    )
    earlier = alice.get("/dashboard/", params={"sprint": "2026Q3"})
    assert earlier.status_code == 200 and "No points yet." in earlier.text
    assert alice.get("/dashboard/", params={"sprint": "1999Q1"}).status_code == 404


def test_leaderboard_csv_is_filtered_and_audited(world: World) -> None:
    site = world.serve()
    response = site.client("alice").get(
        "/dashboard/export/leaderboard.csv", params={"region": "US"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "leaderboard-2026Q4-person.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["name"], r["points"]) for r in rows] == [
        ("Bob", "2"),
        (f"{XSS}Eve", "1"),
        ("Dan", "1"),
    ]
    teams = site.client("alice").get("/dashboard/export/leaderboard.csv", params={"by": "team"})
    assert {r["name"] for r in csv.DictReader(io.StringIO(teams.text))} == {"Brand", "Digital"}

    with world.db() as s:
        entries = s.exec(select(AuditEntry).where(AuditEntry.action == "export.leaderboard")).all()
        assert entries[0].actor == "email:alice@example.com"
        assert entries[0].detail["filters"] == {"region": "US"}
        assert entries[0].detail["rows"] == 3 and entries[0].detail["sprint"] == "2026Q4"
        assert entries[1].detail["by"] == "team"
        assert audit_proof(s).intact


def test_recognitions_csv_guards_formulas_and_is_audited(world: World) -> None:
    site = world.serve()
    page = site.client("ray").get("/dashboard/reviews")
    assert 'href="/dashboard/export/recognitions.csv"' in page.text  # reviewers find it
    response = site.client("ray").get("/dashboard/export/recognitions.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    messages = [r["message"] for r in rows]
    assert messages[0] == "'" + FORMULA
    assert not any(m.startswith(("=", "+", "-", "@")) for r in rows for m in r.values())
    assert len(rows) == 5  # published and not taken back
    assert all(HELD not in m and BLOCKED not in m and PV_TEXT not in m for m in messages)
    carol = next(r for r in rows if "portal copy" in r["message"])
    assert carol["giver"] == "Carol" and carol["recipient_emails"] == "alice@example.com"
    with world.db() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "export.recognitions")).one()
        assert entry.actor == "email:ray@example.com" and entry.detail["rows"] == 5

    assert [cell(v) for v in ("+1", "-x", "@a", "=b", "\tc", "ok", 5, None)] == [
        "'+1",
        "'-x",
        "'@a",
        "'=b",
        "'\tc",
        "ok",
        "5",
        "",
    ]


def test_the_audit_page_shows_whether_the_seal_holds(world: World) -> None:
    site = world.serve()
    ada = site.client("ada")
    page = ada.get("/dashboard/audit")
    assert "Nothing has been sealed yet" in page.text and "kudos.pass" in page.text
    world.runtime.audit_key = AuditKey.parse(AUDIT_KEY)
    done = seal_all(world.runtime.engine, world.runtime.audit_key, now=datetime.now(UTC))
    sealed = ada.get("/dashboard/audit")
    assert f"Sealed: {done.added} entries, ending where the checkpoint of" in sealed.text
    with world.db() as s:
        s.connection().execute(text("DELETE FROM audit_entry WHERE seq = :n"), {"n": done.added})
        s.commit()
    broken = ada.get("/dashboard/audit")
    assert "does not match its seal" in broken.text
    assert f"the trail ends at entry {done.added - 1}, not where its newest checkpoint" in (
        broken.text
    )


def test_pv_cases_show_their_text_to_the_safety_team_only(world: World) -> None:
    site = world.serve()
    safety = site.client("sam").get("/dashboard/pv").text
    admin = site.client("ada").get("/dashboard/pv").text
    for page in (safety, admin):
        assert ">kudos<" in page and ">open<" in page and "Dan" in page
    assert "hospitalized" in safety
    assert "hospitalized" not in admin and "safety team only" in admin
    with Session(world.runtime.engine) as s:
        case = s.exec(select(PvCase)).one()
        (read,) = s.exec(select(AuditEntry).where(AuditEntry.action == "pv.texts_read")).all()
    assert case.text.startswith("pv1:")  # sealed at rest: the page opened it for Sam
    assert read.actor == "email:sam@example.com" and read.detail == {"cases": [case.id]}


def test_the_served_app_mounts_the_dashboard_only_when_its_secret_is_set(
    file_engine: Engine,
) -> None:
    from storage.models import Member
    from tests.harness import Server

    with Session(file_engine) as s:
        s.add(Member(display_name="Rita", email="rita@larkspur.example"))
        s.commit()
    off = Server(file_engine, slack_api_url=None).start()
    try:
        assert httpx.get(f"{off.base_url}/dashboard/", timeout=10).status_code == 404
    finally:
        off.stop()
    env = {
        "PLAUDIT_DASHBOARD_SECRET": "s" * 40,
        "PLAUDIT_AUTH_PROXY_HEADER": "X-Forwarded-Email",
    }
    on = Server(file_engine, slack_api_url=None, env=env).start()
    try:
        anonymous = httpx.get(f"{on.base_url}/dashboard/", timeout=10)
        assert anonymous.status_code in (302, 303, 307)
        signed_in = httpx.get(
            f"{on.base_url}/dashboard/",
            headers={"X-Forwarded-Email": "rita@larkspur.example"},
            timeout=10,
        )
        assert signed_in.status_code == 200 and "Rita" in signed_in.text
    finally:
        on.stop()


# -- survey results -----------------------------------------------------------------------------

PULSE_SURVEY = surveys.Survey(
    id="pulse",
    title="Weekly pulse",
    questions=(
        surveys.Question("energy", "scale", "How energised do you feel?", ("Drained", "Great")),
        surveys.Question("enps", "enps", "Would you recommend working here?"),
        surveys.Question("focus", "choice", "What got in the way?", options=("Meetings", "Tools")),
        surveys.Question("comment", "text", "Anything else?", optional=True),
    ),
    audience=surveys.Audience(teams=("Pulse",)),
    anonymous=True,
    min_responses=3,
)


def pulse_round(
    world: World,
    answers: int,
    *,
    period: str = "2026-11-24",
    comment: str | None = None,
    close: bool = True,
) -> int:
    """A round of the pulse survey for five people of team Pulse; `answers` of them answer."""
    now = world.clock.now()

    def people(s: Session) -> list[Member]:
        found = list(s.exec(select(Member).where(Member.team == "Pulse")))
        if not found:
            found = [
                Member(
                    slack_team_id="T0001",
                    slack_user_id=f"U0P{i:03d}",
                    email=f"pulse{i}@example.com",
                    display_name=f"Pulse {i}",
                    team="Pulse",
                    region="EU",
                )
                for i in range(5)
            ]
            s.add_all(found)
            s.flush()
        return found

    members = world.runtime.run_sync(people)

    def opening(s: Session) -> int:
        opened = surveys.open_round(PULSE_SURVEY, session=s, now=now, period=period)
        assert isinstance(opened, surveys.Opened), opened
        return opened.round_id

    round_id = world.runtime.run_sync(opening)
    for i, member in enumerate(members[:answers]):
        assert member.slack_user_id is not None
        who = Person("slack", "T0001", member.slack_user_id, member.display_name)
        values: list[tuple[str, dict[str, Any]]] = [
            ("energy", {"score": 4 if i % 2 else 2}),
            ("enps", {"score": 9 if i % 2 else 5}),
            ("focus", {"choices": ("Tools",)}),
        ]
        if comment is not None:
            values.append(("comment", {"text": f"{comment} {i}"}))
        for qid, value in values:
            event = surveys.SurveyAnswered(who, round_id, qid, **value)
            result = world.runtime.run_sync(
                lambda s, e=event: surveys.answer(
                    e, session=s, now=now, rules=world.runtime.rules, policy=POLICY
                )
            )
            assert isinstance(result, surveys.Answered), result
    if close:
        world.runtime.run_sync(
            lambda s: surveys.close_round(round_id, session=s, now=now, closed_by="test")
        )
    return round_id


def test_a_closed_round_with_enough_answers_shows_its_results(world: World) -> None:
    pulse_round(world, 4, period="2026-11-17")
    pulse_round(world, 4)
    site = world.serve()
    for who in ("ada", "mia"):  # an admin, a manager
        page = site.client(who).get("/dashboard/surveys/pulse")
        assert page.status_code == 200, who
        text = page.text
        assert "Weekly pulse, round 2" in text
        assert "4 of 5 answered (80%)" in text
        assert "Distribution of answers" in text and "<svg" in text
        assert '<th scope="row">Tools</th><td>4</td>' in text
        assert '<th scope="row">2</th><td>2</td>' in text  # two answered 2 on the scale
        assert "mean 3.0 of 5" in text and "eNPS +0" in text
        assert "Trend over earlier rounds" in text
    first = site.client("ada").get("/dashboard/surveys/pulse?round=1")
    assert "Weekly pulse, round 1" in first.text
    assert site.client("ada").get("/dashboard/surveys/pulse?round=9").status_code == 404
    assert site.client("ada").get("/dashboard/surveys/nope").status_code == 404


def test_an_anonymous_round_under_the_threshold_shows_participation_only(world: World) -> None:
    pulse_round(world, 2)
    pulse_round(world, 4, period="2026-11-25", close=False)
    site = world.serve()
    ada = site.client("ada")
    closed = ada.get("/dashboard/surveys/pulse?round=1")
    assert closed.status_code == 200
    assert "2 of 5 answered (40%)" in closed.text
    assert "Results hidden: fewer than 3 answers" in closed.text
    assert "Distribution of answers" not in closed.text and "Tools" not in closed.text
    # The default is the latest closed round; an open one shows participation only.
    assert "Weekly pulse, round 1" in ada.get("/dashboard/surveys/pulse").text
    still_open = ada.get("/dashboard/surveys/pulse?round=2")
    assert "4 of 5 answered (80%)" in still_open.text
    assert "results when the round closes" in still_open.text
    assert "Distribution of answers" not in still_open.text and "Tools" not in still_open.text


def test_members_may_not_see_survey_results(world: World) -> None:
    pulse_round(world, 4)
    site = world.serve()
    alice = site.client("alice")
    for path in ("/dashboard/surveys", "/dashboard/surveys/pulse"):
        assert alice.get(path).status_code == 403, path
    assert "/dashboard/surveys" not in alice.get("/dashboard/").text


def test_an_admin_sees_the_surveys_with_rounds(world: World) -> None:
    site = world.serve()
    ada = site.client("ada")
    assert "No survey has run yet." in ada.get("/dashboard/surveys").text
    pulse_round(world, 4)
    page = ada.get("/dashboard/surveys")
    assert page.status_code == 200
    assert '<a href="/dashboard/surveys/pulse">Weekly pulse</a>' in page.text
    assert "4 of 5 (80%)" in page.text
    assert "/dashboard/surveys" in ada.get("/dashboard/").text


def test_free_text_survey_answers_are_escaped(world: World) -> None:
    pulse_round(world, 4, comment=XSS)
    site = world.serve()
    page = site.client("ada").get("/dashboard/surveys/pulse")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 0" in page.text
    assert "<script" not in page.text.lower()


def test_a_manager_sees_only_their_orgs_teams_in_survey_breakdowns(world: World) -> None:
    pulse_round(world, 4)
    site = world.serve()
    admin = site.client("ada").get("/dashboard/surveys/pulse").text
    assert '<th scope="row">Pulse</th>' in admin and "By region" in admin
    manager = site.client("mia").get("/dashboard/surveys/pulse").text
    assert "4 of 5 answered (80%)" in manager and "mean 3.0 of 5" in manager  # company-wide
    assert '<th scope="row">Pulse</th>' not in manager and "By region" not in manager
    assert "your own org's teams only" in manager

    def adopt(s: Session) -> None:  # one of the Pulse team now reports to Mia
        one = s.exec(select(Member).where(Member.team == "Pulse")).first()
        assert one is not None
        mia = s.exec(select(Member).where(Member.email == email("mia"))).one()
        one.manager_id = mia.id
        s.add(one)
        s.commit()

    world.runtime.run_sync(adopt)
    manager = site.client("mia").get("/dashboard/surveys/pulse").text
    assert '<th scope="row">Pulse</th>' in manager and "By region" not in manager


def test_survey_csv_holds_what_the_page_shows_and_is_audited(world: World) -> None:
    pulse_round(world, 4, period="2026-11-17")
    pulse_round(world, 2)  # under the threshold: participation only
    site = world.serve()
    ada = site.client("ada")
    full = ada.get("/dashboard/export/survey-pulse.csv?round=1")
    assert full.status_code == 200
    assert 'filename="survey-pulse-round-1.csv"' in full.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(full.text)))
    assert rows[0] == ["survey", "round", "section", "item", "answer", "value"]
    assert ["pulse", "1", "participation", "respondents", "", "4"] in rows
    assert ["pulse", "1", "question", "What got in the way?", "Tools", "4"] in rows
    assert ["pulse", "1", "question", "Would you recommend working here?", "enps", "0"] in rows
    assert ["pulse", "1", "team", "Pulse", "respondents", "4"] in rows
    hidden = list(csv.reader(io.StringIO(ada.get("/dashboard/export/survey-pulse.csv").text)))
    assert [r[2] for r in hidden[1:]] == ["participation", "participation"]
    scoped = site.client("mia").get("/dashboard/export/survey-pulse.csv?round=1").text
    assert "Pulse" not in scoped and "What got in the way?" in scoped
    assert site.client("alice").get("/dashboard/export/survey-pulse.csv").status_code == 403
    assert ada.get("/dashboard/export/survey-nope.csv").status_code == 404
    assert ada.get("/dashboard/export/survey-pulse.csv?round=x").status_code == 404

    def audited(s: Session) -> list[tuple[str, dict[str, Any]]]:
        found = s.exec(select(AuditEntry).where(AuditEntry.action == "export.survey"))
        return [(e.actor, e.detail) for e in found]

    entries = world.runtime.run_sync(audited)
    assert [(a, d["scope"]) for a, d in entries] == [
        ("email:ada@example.com", "all"),
        ("email:ada@example.com", "all"),
        ("email:mia@example.com", "org"),
    ]


def test_the_milestones_page_shows_progress_and_awards(world: World) -> None:
    launch = Milestone(
        id="spring-orders",
        title="Spring launch orders",
        source="orders",
        threshold="orders",
        at_least=Decimal(3),
        points=30,
        team="Digital",
    )
    world.runtime.milestones = (launch,)
    now = world.clock.now()

    def orders(s: Session, ids: range) -> None:
        for i in ids:
            s.add(
                BcOrder(
                    id=i,
                    status_id=11,
                    counts=True,
                    date_created=now,
                    date_modified=now,
                    total_cents=12_500,
                )
            )
        s.commit()

    world.runtime.run_sync(lambda s: orders(s, range(1, 3)))
    site = world.serve()
    page = site.client("alice").get("/dashboard/milestones")
    assert page.status_code == 200
    assert "Spring launch orders" in page.text and "2 of 3 orders" in page.text
    assert "30 points, shared by team Digital" in page.text
    assert "No milestone has been reached yet." in page.text

    world.runtime.run_sync(lambda s: orders(s, range(3, 4)))

    def award(s: Session) -> None:
        milestones.evaluate((launch,), session=s, now=now, calendar=POLICY.sprints, policy=POLICY)
        s.commit()

    world.runtime.run_sync(award)
    page = site.client("alice").get("/dashboard/milestones")
    assert "Reached</span> (1 award)" in page.text and "<td>2026Q4</td>" in page.text
    assert re.search(r"<td>30</td><td>team Digital, 3 people</td>", page.text), page.text


def test_the_configuration_page_is_for_admins_and_shows_no_secret(world: World) -> None:
    site = world.serve(status=("Slack: on (HTTP mode, POST /slack/events)",))
    page = site.client("ada").get("/dashboard/configuration")
    assert page.status_code == 200
    text_ = page.text
    assert "HTTP mode, POST /slack/events" in text_
    assert "#site-activation" in text_ and "5 points a day" in text_
    assert "default@" in text_  # the rule packs in force, with their versions
    assert "adverse_event_mention" in text_ and "route_pv" in text_
    assert "ada@example.com" in text_ and "header X-Forwarded-Email" in text_
    assert SECRET not in text_
    for who in ("alice", "mia", "rae", "sam"):
        assert site.client(who).get("/dashboard/configuration").status_code == 403, who
    assert "/dashboard/configuration" in site.client("ada").get("/dashboard/").text
    assert "/dashboard/configuration" not in site.client("alice").get("/dashboard/").text


# -- fuzz ---------------------------------------------------------------------------------------

QUERY = st.dictionaries(
    st.sampled_from(["sprint", "team", "region", "value", "page", "scope", "round", "by", "next"]),
    st.text(max_size=40),
    max_size=4,
)
FORM = st.dictionaries(
    st.sampled_from(["csrf", "reason", "giver", "text"]), st.text(max_size=60), max_size=3
)


@pytest.fixture
def admin_site(world: World) -> Iterator[tuple[World, httpx.Client, list[str]]]:
    pulse_round(world, 4)
    site = world.serve()
    paths = []
    for route in dashboard_app(world.runtime, DashboardConfig(secret_key=SECRET)).routes:
        if isinstance(route, Route):
            paths.append(re.sub(r"\{(\w+):\w+\}", lambda m: SAMPLE[m.group(1)], route.path))
    yield world, site.client("ada"), paths


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), query=QUERY, form=FORM)
def test_no_dashboard_route_answers_a_server_error(
    admin_site: tuple[World, httpx.Client, list[str]],
    data: st.DataObject,
    query: dict[str, str],
    form: dict[str, str],
) -> None:
    """Signed in as an administrator (who may open everything), any query string or form
    on any route gets a page, a redirect or a 4xx: never a 5xx."""
    _, client, paths = admin_site
    path = "/dashboard" + data.draw(st.sampled_from(paths))
    if path.endswith("/logout"):
        return  # it would end the session the other examples use
    method = data.draw(st.sampled_from(["GET", "POST"]))
    response = client.request(method, path, params=query, data=form if method == "POST" else None)
    assert response.status_code < 500, (method, path, query, form, response.text[:300])


def test_workspaces_counted_apart_see_only_their_own_board_and_feed(world: World) -> None:
    def place(s: Session) -> None:
        for name, team in (("alice", "T0AAA"), ("mia", "T0AAA"), ("carol", "T0AAA")):
            s.exec(select(Member).where(Member.email == email(name))).one().slack_team_id = team
        for name in ("bob", "dan", "eve"):
            s.exec(select(Member).where(Member.email == email(name))).one().slack_team_id = "T0BBB"
        s.commit()

    world.runtime.run_sync(place)
    site = world.serve(workspaces_apart=True, home_workspace="T0AAA")
    alice = site.client("alice")
    board = alice.get("/dashboard/").text
    assert "Slack workspace T0AAA" in board
    assert '<th scope="row">Alice</th>' in board and '<th scope="row">Bob</th>' not in board
    # Asking for another workspace is for admins only.
    assert '<th scope="row">Bob</th>' not in alice.get("/dashboard/?workspace=T0BBB").text
    feed = alice.get("/dashboard/feed").text
    assert "site activation email" in feed and "congress booking" not in feed
    exported = alice.get("/dashboard/export/leaderboard.csv").text
    assert "alice@example.com" in exported and "bob@example.com" not in exported

    ada = site.client("ada")  # not in Slack: the home workspace, or any she asks for
    assert '<th scope="row">Bob</th>' not in ada.get("/dashboard/").text
    other = ada.get("/dashboard/?workspace=T0BBB").text
    assert '<th scope="row">Bob</th>' in other and '<th scope="row">Alice</th>' not in other
    assert 'name="workspace" value="T0BBB"' in other  # filters keep the workspace
    assert "congress booking" in ada.get("/dashboard/feed?workspace=T0BBB").text

    together = world.serve()  # one organisation: everyone
    assert '<th scope="row">Bob</th>' in together.client("alice").get("/dashboard/").text

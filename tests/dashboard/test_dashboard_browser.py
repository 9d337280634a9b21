"""The web dashboard in a real browser: Playwright drives Debian's Chromium against the whole
app served by uvicorn. Sign-in through OpenID Connect and through a proxy header, what each
role sees, deciding a held kudos, CSV downloads, escaping, keyboard use, how the actions
look, and the audit trail and leaderboard at phone width and wide. Every page visited is
saved as a screenshot in tests/artifacts/."""

from __future__ import annotations

import contextlib
import csv
import json
import re
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Dialog,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import Engine
from sqlmodel import Session, select

from handlers import kudos, roster
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage.models import Recognition, Review
from tests.fakes.oidc import FakeOidc
from tests.fakes.slack_api import FakeSlack
from tests.harness import Server, eventually

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        reason="Debian's chromium is not installed (apt-get install chromium); .ci/run installs it",
        allow_module_level=True,
    )

ARTIFACTS = Path(__file__).parent.parent / "artifacts"
HEADER = "X-Forwarded-Email"
POLICY = KudosPolicy(recognition_channel="C0KUDOS", review_channel="C0REVIEW")
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
HELD = "for the Neurabel deck for paediatric patients"  # off-label: held for review
PORTAL = f"{SCRIPT}{IMG} thanks for the portal copy review"
PEOPLE: dict[str, dict[str, str]] = {
    "mia": {"display_name": "Mia", "team": "Brand", "region": "EU"},
    "alice": {"display_name": "Alice", "slack_id": "U0A001", "manager_email": "mia@example.com",
              "team": "Brand", "region": "EU"},
    "bob": {"display_name": "Bob", "slack_id": "U0B002", "team": "Digital", "region": "US"},
    "eve": {"display_name": f"{IMG}Eve", "team": "Digital", "region": "US"},
    "rae": {"display_name": "Rae", "roles": "reviewer"},
    "ada": {"display_name": "Ada", "roles": "admin"},
    "sam": {"display_name": "Sam", "roles": "safety"},
}  # fmt: skip
GIFTS = {
    "checklist": ("alice", ["bob"], "thanks for the launch checklist"),
    "portal": ("eve", ["alice"], PORTAL),
    "booking": ("bob", ["eve"], "thanks for untangling the congress booking"),
    "held": ("alice", ["bob"], HELD),
}
PAGES = {
    "Leaderboard": "/",
    "Recognition feed": "/feed",
    "Reviews": "/reviews",
    "Audit trail": "/audit",
    "PV cases": "/pv",
    "Surveys": "/surveys",
    "Collaboration": "/collaboration",
    "Milestones": "/milestones",
    "KPIs": "/kpis",
    "Pilots": "/pilots",
    "Configuration": "/configuration",
}
LEADERBOARD_CSV = [
    "sprint", "board", "rank", "name", "email", "points", "kudos_points", "milestone_points",
]  # fmt: skip
RECOGNITIONS_CSV = [
    "id", "created_at", "giver", "giver_email", "recipients", "recipient_emails", "values",
    "message", "source", "platform",
]  # fmt: skip
UNLABELLED = """() => [...document.querySelectorAll(
    "input:not([type=hidden]), select, textarea")].map(e => [e.name, e.labels.length])"""


def email(name: str) -> str:
    """The roster email of a person in PEOPLE."""
    return f"{name}@example.com"


def person(name: str) -> Person:
    """A person in PEOPLE as a kudos event names them."""
    return Person("email", None, email(name), PEOPLE[name]["display_name"], email=email(name))


# -- the running app ----------------------------------------------------------------------------


def seed(server: Server) -> dict[str, int]:
    """The roster, then kudos through the real use case; returns recognition ids by key."""
    runtime = server.runtime

    def import_roster(s: Session) -> None:
        rows = [
            roster.Row(i + 2, {"email": email(name), **values})
            for i, (name, values) in enumerate(PEOPLE.items())
        ]
        report = roster.import_rows(rows, session=s, now=runtime.clock.now())
        assert not report.rejected, report.rejected

    runtime.run_sync(import_roster)
    ids: dict[str, int] = {}
    for key, (giver, to, message) in GIFTS.items():
        event = KudosRequested(
            key=f"seed:{key}",
            giver=person(giver),
            recipients=tuple(person(r) for r in to),
            message=message,
            values=(),
            source="cli",
        )

        def give(s: Session, event: KudosRequested = event) -> kudos.KudosResult:
            return kudos.give(
                event, session=s, policy=POLICY, clock=runtime.clock, rules=runtime.rules
            )

        result = runtime.run_sync(give)
        assert isinstance(result, kudos.Recorded | kudos.Stopped), (key, result)
        ids[key] = result.recognition_id
    return ids


def serve_on(server: Server, sock: socket.socket) -> None:
    """Start `server` on an already bound socket, so its settings can name its address."""
    config = uvicorn.Config(server.app, log_level="warning", lifespan="on")
    server.server = uvicorn.Server(config)
    server.thread = threading.Thread(
        target=server.server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    server.thread.start()
    eventually(lambda: server.server.started or not server.thread.is_alive(), timeout=15)
    assert server.server.started, "the server did not start"
    server.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class Dash:
    """The served app, its fakes, and browser tabs that save screenshots as they go."""

    browser: Browser
    server: Server
    slack: FakeSlack
    oidc: FakeOidc
    ids: dict[str, int]
    name: str
    contexts: list[BrowserContext] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    shots: int = 0

    @property
    def url(self) -> str:
        return self.server.base_url + "/dashboard"

    def page(
        self,
        as_: str | None = None,
        *,
        bypass_csp: bool = False,
        viewport: ViewportSize | None = None,
    ) -> Page:
        """A fresh browser (1280 by 720 unless `viewport` says); `as_` signs in through the
        proxy header on every request."""
        context = self.browser.new_context(
            extra_http_headers={HEADER: email(as_)} if as_ else {},
            accept_downloads=True,
            bypass_csp=bypass_csp,
            viewport=viewport or {"width": 1280, "height": 720},
        )
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("dialog", self._dialog)
        return page

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, page: Page, path: str, label: str, *, status: int = 200) -> None:
        """Go to a dashboard path, check the status, and take a screenshot."""
        response = page.goto(self.url + path)
        assert response is not None and response.status == status, (path, response)
        self.shot(page, label)

    def shot(self, page: Page, label: str) -> None:
        """Save the whole page as tests/artifacts/<test>-<nn>-<label>.png."""
        self.shots += 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(
            path=ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}.png", full_page=True
        )

    def db(self) -> Session:
        return Session(self.server.runtime.engine, expire_on_commit=False)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole module."""
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def dash(browser: Browser, file_engine: Engine, request: pytest.FixtureRequest) -> Iterator[Dash]:
    """The whole app with the dashboard on (OIDC and proxy header), seeded, on loopback."""
    with contextlib.ExitStack() as stack:
        slack = stack.enter_context(FakeSlack())
        oidc = stack.enter_context(FakeOidc(email=email("alice")))
        sock = stack.enter_context(socket.socket())
        sock.bind(("127.0.0.1", 0))
        public = f"http://127.0.0.1:{sock.getsockname()[1]}"
        env = {
            "PLAUDIT_DASHBOARD_SECRET": "x" * 40,
            "PLAUDIT_AUTH_PROXY_HEADER": HEADER,
            "PLAUDIT_OIDC_ISSUER": oidc.issuer,
            "PLAUDIT_OIDC_CLIENT_ID": oidc.client_id,
            "PLAUDIT_OIDC_CLIENT_SECRET": oidc.client_secret,
            "PLAUDIT_PUBLIC_URL": public,
        }
        server = Server(file_engine, slack_api_url=slack.base_url, policy=POLICY, env=env)
        serve_on(server, sock)
        stack.callback(server.stop)
        ids = seed(server)
        name = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")
        d = Dash(browser, server, slack, oidc, ids, name)
        try:
            yield d
        finally:
            for context in d.contexts:
                context.close()
    assert d.dialogs == [], d.dialogs


def nav_of(page: Page) -> list[str]:
    """The labels of the dashboard's navigation links."""
    return page.get_by_role("navigation", name="Dashboard").get_by_role("link").all_inner_texts()


def rows_of(page: Page, table: str) -> list[str]:
    """The names in the row headers of the table with that caption."""
    return page.get_by_role("table", name=table).get_by_role("rowheader").all_inner_texts()


# -- signing in ---------------------------------------------------------------------------------


def test_oidc_sign_in_leaderboard_filter_and_sign_out(dash: Dash) -> None:
    """A protected page sends the browser through the provider and back, signed in."""
    page = dash.page()
    dash.open(page, "/", "leaderboard")
    assert page.url == dash.url + "/"
    assert len(dash.oidc.authorize_requests) == 1 and len(dash.oidc.token_requests) == 1
    expect(page.get_by_role("heading", level=1)).to_have_text("Leaderboard")
    expect(page.locator(".who")).to_contain_text("Alice")
    chart = page.locator("figure.chart svg[role=img]")
    expect(chart.locator("title")).to_have_text(
        re.compile(r"^Top 3 people in sprint \S+ by points$")
    )
    expect(chart.locator("rect.bar-kudos")).to_have_count(3)
    assert sorted(rows_of(page, "People")) == sorted(["Alice", "Bob", f"{IMG}Eve"])

    page.get_by_label("Team", exact=True).select_option("Brand")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"[?&]team=Brand(&|$)"))
    dash.shot(page, "leaderboard-brand")
    expect(page.locator("p.lead")).to_contain_text("Showing team Brand.")
    expect(page.get_by_label("Team", exact=True)).to_have_value("Brand")
    assert rows_of(page, "People") == ["Alice"]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed out")
    dash.shot(page, "signed-out")
    assert not [c for c in page.context.cookies() if c["name"] == "plaudit_dashboard"]
    expect(page.locator(".who")).to_have_count(0)

    page.get_by_role("main").get_by_role("link", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Leaderboard")
    dash.shot(page, "signed-in-again")
    assert page.url == dash.url + "/"
    assert len(dash.oidc.authorize_requests) == 2
    expect(page.locator(".who")).to_contain_text("Alice")


ROLES = {  # who, the roles shown, and the nav they get
    "alice": ("member", ["Leaderboard", "Recognition feed", "Milestones"]),
    "rae": ("member, reviewer", ["Leaderboard", "Recognition feed", "Reviews", "Milestones"]),
    "ada": ("admin, member", list(PAGES)),
    "sam": ("member, safety", ["Leaderboard", "Recognition feed", "PV cases", "Milestones"]),
    "mia": (
        "manager, member",
        [
            "Leaderboard",
            "Recognition feed",
            "Surveys",
            "Collaboration",
            "Milestones",
            "KPIs",
            "Pilots",
        ],
    ),
}


def test_each_role_sees_its_pages_and_a_403_page_elsewhere(dash: Dash) -> None:
    """Signed in by the proxy header, each role gets its nav and 403 pages for the rest."""
    for who, (roles, nav) in ROLES.items():
        page = dash.page(who)
        dash.open(page, "/", f"{who}-leaderboard")
        expect(page.locator(".who .roles")).to_have_text(f"({roles})")
        assert nav_of(page) == nav, who
        menu = page.get_by_role("navigation", name="Dashboard")
        expect(menu.get_by_role("link", name="Leaderboard")).to_have_attribute(
            "aria-current", "page"
        )
        for label, path in list(PAGES.items())[1:]:
            if label in nav:
                link = menu.get_by_role("link", name=label, exact=True)
                link.click()
                expect(page.get_by_role("heading", level=1)).to_have_text(label)
                assert page.url == dash.url + path
                expect(link).to_have_attribute("aria-current", "page")
                dash.shot(page, f"{who}-{path.strip('/')}")
            else:
                dash.open(page, path, f"{who}-{path.strip('/')}-403", status=403)
                expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
                assert nav_of(page) == nav, (who, path)

    manager = dash.page("mia")
    dash.open(manager, "/feed", "mia-feed")
    manager.get_by_role("link", name="My org").click()
    expect(manager.get_by_role("heading", level=1)).to_have_text("My org's recognitions")
    dash.shot(manager, "mia-my-org")
    expect(manager.locator("ol.feed")).to_contain_text("thanks for the launch checklist")
    expect(manager.locator("ol.feed")).not_to_contain_text("congress booking")

    member = dash.page("alice")
    dash.open(member, "/feed", "alice-feed")
    expect(member.get_by_role("link", name="My org")).to_have_count(0)
    dash.open(member, "/feed?scope=org", "alice-my-org-403", status=403)


# -- reviews ------------------------------------------------------------------------------------


def test_a_reviewer_approves_a_held_kudos_and_slack_gets_the_post(dash: Dash) -> None:
    """Rejecting needs a reason and changes nothing without one; approving publishes."""
    with dash.db() as s:
        review = s.exec(select(Review).where(Review.status == "pending")).one()
    assert review.recognition_id == dash.ids["held"]
    page = dash.page("rae")
    dash.open(page, "/reviews", "reviews")
    section = page.get_by_role("region", name=f"Review #{review.id}")
    expect(section.locator("blockquote")).to_have_text(HELD)
    expect(section).to_contain_text("offlabel.registry")

    reason = section.get_by_label(f"Reason for rejecting #{review.id}")
    section.get_by_role("button", name=f"Reject #{review.id}").click()
    assert reason.evaluate("e => e.validity.valueMissing")  # the browser asks for a reason
    reason.fill("   ")  # gets past the browser, not past the server
    with page.expect_response(f"**/reviews/{review.id}/reject") as answer:
        section.get_by_role("button", name=f"Reject #{review.id}").click()
    assert answer.value.status == 400
    expect(page.get_by_role("alert")).to_have_text(
        f"Review #{review.id}: say why it is rejected, so the giver can learn."
    )
    dash.shot(page, "reject-without-reason")
    with dash.db() as s:
        assert s.get(Review, review.id).status == "pending"  # type: ignore[union-attr]
        held = s.get(Recognition, dash.ids["held"])
        assert held is not None and held.outcome == "hold"

    page.get_by_role("region", name=f"Review #{review.id}").get_by_role(
        "button", name=f"Approve #{review.id}"
    ).click()
    expect(page.get_by_role("status")).to_have_text(f"Review #{review.id} approved.")
    expect(page.get_by_role("main")).to_contain_text("No kudos are waiting for review.")
    assert page.url.endswith(f"/reviews?decided={review.id}&status=approved")
    dash.shot(page, "approved")
    with dash.db() as s:
        decided = s.get(Review, review.id)
        assert decided is not None and decided.status == "approved"
        assert decided.decided_by == "email:rae@example.com"

    def posted() -> bool:
        return any(
            c.args.get("channel") == "C0KUDOS" and HELD in json.dumps(c.args)
            for c in dash.slack.calls("chat.postMessage")
        )

    dash.slack.wait_for("chat.postMessage")
    eventually(posted, timeout=10)

    dash.open(page, "/feed", "feed-after-approval")
    expect(page.locator("ol.feed blockquote").first).to_have_text(HELD)


# -- exports ------------------------------------------------------------------------------------


def download(page: Page, start: Callable[[], object]) -> tuple[str, list[list[str]]]:
    """The suggested file name and the CSV rows of the download that `start` begins."""
    # Going straight to a download aborts that navigation: the error is expected.
    with page.expect_download() as info, contextlib.suppress(PlaywrightError):
        start()
    done = info.value
    assert done.failure() is None
    with open(done.path(), encoding="utf-8", newline="") as f:
        return done.suggested_filename, list(csv.reader(f))


def test_csv_exports_download_with_their_header_rows(dash: Dash) -> None:
    """A member downloads the board from its link; a reviewer the recognitions."""
    member = dash.page("alice")
    dash.open(member, "/", "alice-leaderboard")
    exports = member.locator("p.exports")
    name, rows = download(member, lambda: exports.get_by_role("link", name="people").click())
    assert re.fullmatch(r"leaderboard-\S+-person\.csv", name), name
    assert rows[0] == LEADERBOARD_CSV
    assert sorted(r[3] for r in rows[1:]) == sorted(["Alice", "Bob", f"{IMG}Eve"])
    name, rows = download(member, lambda: exports.get_by_role("link", name="teams").click())
    assert name.endswith("-team.csv") and rows[0] == LEADERBOARD_CSV
    assert sorted(r[3] for r in rows[1:]) == ["Brand", "Digital"]
    dash.open(member, "/export/recognitions.csv", "alice-recognitions-403", status=403)
    expect(member.locator("body")).to_have_text("Not allowed.")

    reviewer = dash.page("rae")
    dash.open(reviewer, "/reviews", "rae-reviews")
    url = dash.url + "/export/recognitions.csv"
    name, rows = download(reviewer, lambda: reviewer.goto(url))
    assert name == "recognitions.csv" and rows[0] == RECOGNITIONS_CSV
    messages = {r[7] for r in rows[1:]}
    assert messages == {
        "thanks for the launch checklist",
        PORTAL,
        "thanks for untangling the congress booking",
    }


# -- escaping and keyboard ----------------------------------------------------------------------


def test_markup_in_names_and_messages_shows_as_text(dash: Dash) -> None:
    """With the CSP bypassed, only escaping stands between the markup and the page."""
    page = dash.page("eve", bypass_csp=True)
    dash.open(page, "/", "eve-leaderboard")
    expect(page.locator(".who")).to_contain_text(f"{IMG}Eve")
    expect(page.get_by_role("table", name="People").get_by_role("rowheader")).to_contain_text(
        [f"{IMG}Eve"]
    )
    assert f"{IMG}Eve" in (page.locator("figure.chart desc").text_content() or "")
    assert page.locator("img").count() == 0 and page.locator("script").count() == 0
    dash.open(page, "/feed", "eve-feed")
    expect(page.locator("ol.feed blockquote", has_text="portal copy")).to_have_text(PORTAL)
    expect(page.locator("ol.feed")).to_contain_text(f"{IMG}Eve")
    assert page.locator("img").count() == 0 and page.locator("script").count() == 0
    assert dash.dialogs == []


def test_the_skip_link_comes_first_and_every_field_has_a_label(dash: Dash) -> None:
    """One Tab reaches the skip link, which moves focus to the main content."""
    page = dash.page("rae")
    dash.open(page, "/", "leaderboard")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    expect(page.locator("a.skip")).to_be_in_viewport()
    dash.shot(page, "skip-link-focused")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    fields: dict[str, list[list[object]]] = {}
    for path in ("/", "/feed", "/reviews"):
        dash.open(page, path, "fields-" + (path.strip("/") or "leaderboard"))
        fields[path] = page.evaluate(UNLABELLED)
        assert [f for f in fields[path] if not f[1]] == [], path
    assert [f[0] for f in fields["/"]] == ["sprint", "team", "region", "therapeutic_area", "value"]
    assert [f[0] for f in fields["/reviews"]] == ["reason"]


# -- how it looks -------------------------------------------------------------------------------

PHONE: ViewportSize = {"width": 390, "height": 844}
WIDE: ViewportSize = {"width": 1280, "height": 900}
LOOK = """e => { const s = getComputedStyle(e);
  return {background: s.backgroundColor, color: s.color, outline: s.outlineStyle,
          outlineWidth: parseFloat(s.outlineWidth)}; }"""


def contrast(one: str, other: str) -> float:
    """WCAG's contrast ratio of two `rgb(r, g, b)` colours."""

    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_approve_reject_and_take_back_look_different_and_say_what_they_do(dash: Dash) -> None:
    """Primary, danger and secondary actions differ in colour, each text says the action,
    text on each is at least AA, and keyboard focus shows a ring."""
    page = dash.page("rae")
    dash.open(page, "/reviews", "reviews-actions")
    approve = page.get_by_role("button", name=re.compile(r"^Approve #\d+$"))
    reject = page.get_by_role("button", name=re.compile(r"^Reject #\d+$"))
    sign_out = page.get_by_role("button", name="Sign out")
    looks = {name: b.evaluate(LOOK) for name, b in (
        ("approve", approve), ("reject", reject), ("sign out", sign_out))}  # fmt: skip
    backgrounds = {look["background"] for look in looks.values()}
    assert len(backgrounds) == 3, looks
    for name, look in looks.items():
        assert contrast(look["background"], look["color"]) >= 4.5, (name, look)
    assert "danger" in (reject.get_attribute("class") or "")

    approve.focus()
    dash.shot(page, "approve-focused")
    focused = approve.evaluate(LOOK)
    assert focused["outline"] != "none" and focused["outlineWidth"] >= 2, focused

    admin = dash.page("ada")
    dash.open(admin, "/feed", "feed-take-back")
    admin.get_by_text(re.compile(r"^Take back #\d+$")).first.click()
    take_back = admin.get_by_role("button", name=re.compile(r"^Take back #\d+: points off"))
    assert take_back.first.evaluate(LOOK)["background"] == looks["reject"]["background"]


def test_the_audit_trail_and_the_leaderboard_at_phone_width_and_wide(dash: Dash) -> None:
    """Nothing scrolls sideways but the tables' own regions; the pages saved at both sizes."""
    for viewport in (PHONE, WIDE):
        width = viewport["width"]
        page = dash.page("ada", viewport=viewport)
        dash.open(page, "/", f"leaderboard-{width}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        expect(page.locator("figure.chart svg")).to_be_visible()
        assert page.locator("figure.chart svg").evaluate(
            "e => e.getBoundingClientRect().width <= document.documentElement.clientWidth"
        )
        dash.open(page, "/audit", f"audit-{width}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        entries = page.get_by_role("region", name="Audit trail entries")
        expect(entries.get_by_role("table")).to_be_visible()
        scrolls = entries.evaluate("e => e.scrollWidth > e.clientWidth")
        assert scrolls == (width == PHONE["width"]), width
        if scrolls:  # the keyboard scrolls it
            entries.focus()
            for _ in range(5):
                page.keyboard.press("ArrowRight")
            # (scrolling by key may be smooth: wait for it to move)
            page.wait_for_function("e => e.scrollLeft > 0", arg=entries.element_handle())
        page.get_by_text("Raw entry").first.click()
        expect(page.locator("details.raw pre").first).to_be_visible()
        dash.shot(page, f"audit-raw-{width}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

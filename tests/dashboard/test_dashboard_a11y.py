"""Every dashboard page in a real browser, as an administrator who is also a reviewer (so every
page, form and button shows), on the demo's Larkspur Pharma (surveys with closed rounds,
milestones, held kudos, PV cases, the sandbox): no page scrolls sideways at phone width, and
axe-core finds no serious or critical accessibility violation, at phone width or wide.

axe-core comes from npm, pinned in tests/browser/package-lock.json; `make test` installs it
(`npm ci --prefix tests/browser`) when npm is there. Without it the axe test skips, saying so.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from bot.demo import app as demo
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers.policy import KudosPolicy
from storage import migrate
from storage.db import make_engine
from tests.harness import run_uvicorn

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        reason="Debian's chromium is not installed (apt-get install chromium); .ci/run installs it",
        allow_module_level=True,
    )

from tests.dashboard import test_dashboard_browser as dashboard  # noqa: E402

ARTIFACTS = dashboard.ARTIFACTS
browser = dashboard.browser  # one headless Chromium for the module

AXE = Path(__file__).resolve().parents[1] / "browser" / "node_modules" / "axe-core" / "axe.min.js"
NO_AXE = (
    f"axe-core is not installed ({AXE} is missing): run `make test`, which installs it with "
    "`npm ci --prefix tests/browser --no-audit --no-fund` when npm is there"
)
PHONE: ViewportSize = {"width": 390, "height": 844}
WIDE: ViewportSize = {"width": 1280, "height": 900}
# Every page an administrator opens (the demo's sandbox too), with its heading.
PAGES = {
    "/": "Leaderboard",
    "/feed": "Recognition feed",
    "/reviews": "Reviews",
    "/audit": "Audit trail",
    "/pv": "PV cases",
    "/surveys": "Surveys",
    "/surveys/pulse": "Monthly pulse, round 4",
    "/collaboration": "Collaboration",
    "/milestones": "Milestones",
    "/kpis": "KPIs",
    "/pilots": "Pilots",
    "/configuration": "Configuration",
    "/sandbox": "Sandbox",
}
SIGNED_OUT = {"/login": "Sign in"}  # the demo's sign-in page, seen before signing in
SCROLLS_SIDEWAYS = "document.documentElement.scrollWidth > window.innerWidth"
RUN_AXE = """async () => {
  const found = await axe.run(document, {resultTypes: ["violations"]});
  return found.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + ": " + n.failureSummary),
  }));
}"""
GRAVE = ("serious", "critical")


@dataclass
class Larkspur:
    """The served demo, its administrator's sign-in link, and the browser tabs opened."""

    browser: Browser
    url: str
    link: str
    name: str
    contexts: list[BrowserContext] = field(default_factory=list)
    session: Any = None  # the signed-in browser's cookies, once the link is used
    shots: int = 0

    def page(self, viewport: ViewportSize, *, signed_in: bool = True) -> Page:
        """A fresh tab at that size, signed in (the one-time link is good once: its session
        is carried to later tabs); the CSP is bypassed so axe-core can be added to it."""
        carried = self.session if signed_in else None
        context = self.browser.new_context(
            viewport=viewport, bypass_csp=True, storage_state=carried
        )
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        if signed_in and carried is None:
            response = page.goto(self.link)
            assert response is not None and response.status == 200
            self.session = context.storage_state()
        return page

    def open(self, page: Page, path: str, heading: str, *, status: int = 200) -> None:
        """Go to a dashboard path, check its status and heading, save a screenshot."""
        response = page.goto(self.url + path)
        assert response is not None and response.status == status, (path, response)
        assert page.get_by_role("heading", level=1).inner_text() == heading, path
        self.shots += 1
        ARTIFACTS.mkdir(exist_ok=True)
        width = page.viewport_size["width"] if page.viewport_size else 0
        label = re.sub(r"\W+", "-", path).strip("-") or "leaderboard"
        page.screenshot(
            path=ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}-{width}.png", full_page=True
        )


@pytest.fixture
def larkspur(
    browser: Browser, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Larkspur]:
    """The demo app on its own SQLite file, seeded now; its administrator also reviews."""
    engine = make_engine(f"sqlite:///{tmp_path / 'plaudit-demo.db'}")
    migrate.upgrade(engine)
    policy = demo.policy(KudosPolicy(reviewers=(demo.ADMIN,)))
    runtime = Runtime(engine=engine, policy=policy, rules=default_rules())
    assert demo.seed(runtime, now=runtime.clock.now())["seeded"] is True
    secret = secrets.token_urlsafe(32)
    token = demo.issue_link(runtime, secret)
    server, thread, base = run_uvicorn(demo.app(runtime, secret=secret))
    name = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")
    site = Larkspur(
        browser, f"{base}/dashboard", f"{base}/dashboard/demo-login?token={token}", name
    )
    try:
        yield site
    finally:
        for context in site.contexts:
            context.close()
        server.should_exit = True
        thread.join(timeout=15)
        runtime.close()
        engine.dispose()


def grave(page: Page) -> list[dict[str, Any]]:
    """The serious and critical violations axe-core finds on the page as it is now."""
    page.add_script_tag(path=AXE)
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return [v for v in found if v["impact"] in GRAVE]


def test_no_page_scrolls_sideways_at_phone_width(larkspur: Larkspur) -> None:
    """At 390 px wide every page fits: wide tables scroll inside their own region, which
    the keyboard can reach and which has a name, and the page itself never scrolls."""
    for viewport in (PHONE, WIDE):
        page = larkspur.page(viewport)
        for path, heading in PAGES.items():
            larkspur.open(page, path, heading)
            assert not page.evaluate(SCROLLS_SIDEWAYS), (path, viewport)
            regions = page.locator(".table-wrap")
            for i in range(regions.count()):
                region = regions.nth(i)
                assert region.get_attribute("tabindex") == "0", path
                assert region.get_attribute("role") == "region", path
                assert region.get_attribute("aria-label"), path
        signed_out = larkspur.page(viewport, signed_in=False)
        larkspur.open(signed_out, "/login", "Sign in", status=401)
        assert not signed_out.evaluate(SCROLLS_SIDEWAYS), viewport
    # The audit trail's table is wider than a phone: it scrolls, inside its region.
    page = larkspur.page(PHONE)
    larkspur.open(page, "/audit", "Audit trail")
    entries = page.get_by_role("region", name="Audit trail entries")
    assert entries.evaluate("e => e.scrollWidth > e.clientWidth")


@pytest.mark.skipif(not AXE.exists(), reason=NO_AXE)
def test_axe_finds_no_serious_or_critical_violation_on_any_page(larkspur: Larkspur) -> None:
    """axe-core's default rules (WCAG 2.x A and AA, and best practices) on every page, wide
    and at phone width, with the audit trail's raw entries and the survey figures opened."""
    found: dict[str, list[dict[str, Any]]] = {}
    for viewport in (WIDE, PHONE):
        page = larkspur.page(viewport)
        for path, heading in PAGES.items():
            larkspur.open(page, path, heading)
            for summary in page.locator("details > summary").all()[:3]:
                summary.click()
            found[f"{path} at {viewport['width']} px"] = grave(page)
        signed_out = larkspur.page(viewport, signed_in=False)
        for path, heading in SIGNED_OUT.items():
            larkspur.open(signed_out, path, heading, status=401)
            found[f"{path} (signed out) at {viewport['width']} px"] = grave(signed_out)
    assert {where: v for where, v in found.items() if v} == {}
    assert len(found) == 2 * (len(PAGES) + len(SIGNED_OUT))

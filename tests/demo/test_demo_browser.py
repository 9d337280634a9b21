"""`plaudit demo` in a real browser: Playwright drives Debian's Chromium against the demo app
served by uvicorn on a freshly seeded Larkspur Pharma. The one-time link, the sandbox's
kudos and survey forms with their Slack and Teams previews, the leaderboard with campaign
milestone points, and the pulse survey's trend. Every page visited is saved as a screenshot
in tests/artifacts/."""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

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

ARTIFACTS, UNLABELLED = dashboard.ARTIFACTS, dashboard.UNLABELLED
browser = dashboard.browser  # one headless Chromium for the module, as there

TOM = "tom.becker@larkspur.example"
SOFIA = "sofia.rossi@larkspur.example"
MARKUP = "@Ana Lopez thanks for the <b>site activation</b> email #site-activation"
BLOCKED = "@Ana Lopez the Oncozol email calls it the best treatment"
SIDE_EFFECT = "my patient was hospitalized after taking Somnira"


@dataclass
class Demo:
    """The served demo, its sign-in link, and a tab that saves screenshots as it goes."""

    url: str
    link: str
    page: Page
    name: str
    shots: int = 0

    def shot(self, label: str) -> None:
        """Save the whole page as tests/artifacts/<test>-<nn>-<label>.png."""
        self.shots += 1
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}.png"
        self.page.screenshot(path=path, full_page=True)


@pytest.fixture
def larkspur(browser: Browser, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Demo]:
    """The demo app on its own SQLite file, seeded now, on loopback; one browser tab."""
    engine = make_engine(f"sqlite:///{tmp_path / 'plaudit-demo.db'}")
    migrate.upgrade(engine)
    runtime = Runtime(engine=engine, policy=demo.policy(KudosPolicy()), rules=default_rules())
    assert demo.seed(runtime, now=runtime.clock.now())["seeded"] is True
    secret = secrets.token_urlsafe(32)
    token = demo.issue_link(runtime, secret)  # as `plaudit demo` prints it
    server, thread, base = run_uvicorn(demo.app(runtime, secret=secret))
    context = browser.new_context()
    context.set_default_timeout(10_000)
    name = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")
    try:
        yield Demo(
            f"{base}/dashboard", f"{base}/dashboard/demo-login?token={token}",
            context.new_page(), name,
        )  # fmt: skip
    finally:
        context.close()
        server.should_exit = True
        thread.join(timeout=15)
        runtime.close()
        engine.dispose()


def question(page: Page, number: int) -> Locator:
    """The fieldset of the survey question with that number."""
    return page.get_by_role("group", name=re.compile(rf"^{number}\. "))


def chosen(preview: Locator) -> list[str]:
    """The options marked as chosen in a Slack or Teams preview."""
    return [
        t.replace("(chosen)", "").strip() for t in preview.locator("li.chosen").all_inner_texts()
    ]


def figures(page: Page, table: str, name: str) -> tuple[int, int, int]:
    """(points, kudos, milestones) of the row headed `name` in a leaderboard table."""
    row = (
        page.get_by_role("table", name=table)
        .get_by_role("row")
        .filter(has=page.get_by_role("rowheader", name=name, exact=True))
    )
    points, kudos, milestones = (int(c) for c in row.get_by_role("cell").all_inner_texts()[1:])
    return points, kudos, milestones


def test_the_sandbox_end_to_end(larkspur: Demo) -> None:
    """Sign in once, give kudos that pass and kudos that do not, answer the pulse survey by
    mouse and keyboard, then find the milestone points and the survey's trend."""
    page = larkspur.page
    response = page.goto(larkspur.link)
    assert response is not None and response.status == 200
    assert page.url == larkspur.url + "/"
    expect(page.get_by_role("heading", level=1)).to_have_text("Leaderboard")
    expect(page.locator(".who")).to_contain_text("Helen Marsh")
    larkspur.shot("signed-in")
    again = page.context.new_page()
    gone = again.goto(larkspur.link)
    assert gone is not None and gone.status == 403
    expect(again.get_by_role("heading", level=1)).to_have_text("Sign-in link not valid")
    expect(again.locator("main")).to_contain_text("used already")
    expect(again.locator("main")).to_contain_text("plaudit demo --link")
    again.close()

    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Sandbox").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sandbox")
    larkspur.shot("sandbox")
    assert [f for f in page.evaluate(UNLABELLED) if not f[1]] == []

    # A kudos that passes: the answer, and the posts in Slack and Teams, markup as text.
    page.get_by_label("Give as").select_option(TOM)
    page.get_by_label("/kudos").fill(MARKUP)
    page.get_by_role("button", name="Give kudos").click()
    expect(page.get_by_role("heading", name="Published")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Recorded kudos #\d+ for"))
    slack, teams = page.locator(".preview.slack"), page.locator(".preview.teams")
    expect(slack).to_contain_text("@Tom Becker gave kudos to @Ana Lopez")
    expect(slack).to_contain_text("thanks for the <b>site activation</b> email")
    expect(teams).to_contain_text("@Tom Becker recognised @Ana Lopez")
    assert page.locator(".preview b").count() == 0
    larkspur.shot("kudos-published")

    # A kudos the gate stops: the findings, and no post.
    page.get_by_label("/kudos").fill(BLOCKED)
    page.get_by_role("button", name="Give kudos").click()
    expect(page.get_by_role("heading", name="Not published (block)")).to_be_visible()
    expect(page.locator("ul.findings li").first).to_contain_text(re.compile(r"^\S+: "))
    expect(page.locator(".preview")).to_have_count(0)
    larkspur.shot("kudos-blocked")

    # The survey: a scale by mouse, eNPS by keyboard, a choice, free text; Enter sends.
    expect(page.get_by_role("region", name="Answer the pulse survey")).to_contain_text(
        "Monthly pulse, round 5"
    )
    page.get_by_label("Answer as").select_option(SOFIA)
    question(page, 1).get_by_label("4", exact=True).check()
    question(page, 2).get_by_label("0 Not at all likely").focus()
    for _ in range(9):
        page.keyboard.press("ArrowRight")
    expect(question(page, 2).get_by_label("9", exact=True)).to_be_checked()
    question(page, 3).get_by_label("Approvals").check()
    page.get_by_label("4. Anything else? (optional)").fill("The MLR queue is shorter")
    page.get_by_role("button", name="Send answers").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Answers saved (4)")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("the survey message is redrawn")
    slack, teams = page.locator(".preview.slack"), page.locator(".preview.teams")
    expect(slack).to_contain_text("Monthly pulse")
    expect(slack).to_contain_text("Your answer: The MLR queue is shorter")
    assert chosen(slack) == ["4", "9", "Approvals"]
    assert chosen(teams) == ["4", "9", "Approvals"]
    expect(teams.locator(".preview-input")).to_have_text("The MLR queue is shorter")
    expect(teams).to_contain_text("Submit")
    expect(question(page, 1).get_by_label("4", exact=True)).to_be_checked()
    larkspur.shot("survey-answered")

    # A possible side effect in free text goes to drug safety, and the member is told.
    page.get_by_label("4. Anything else? (optional)").fill(SIDE_EFFECT)
    page.get_by_role("button", name="Send answers").click()
    expect(page.get_by_role("status")).to_have_text(
        "Your answer mentions what may be a side effect, so it has been passed to drug safety "
        "without your name."
    )
    expect(page.locator(".preview.teams .error")).to_contain_text("passed to drug safety")
    larkspur.shot("survey-drug-safety")

    # The leaderboard: campaign milestones next to kudos.
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Leaderboard").click()
    expect(page.locator("figure.chart figcaption")).to_contain_text("campaign milestones")
    assert page.locator("rect.bar-milestone").count() >= 1
    points, kudos, milestones = figures(page, "Teams", "Digital")
    assert milestones > 0 and points == kudos + milestones
    # Field's coupon is short of its threshold; its points are the CTMS's two first patients in.
    assert figures(page, "Teams", "Field")[2] == 2 * 8
    points, kudos, milestones = figures(page, "People", "Chloe Dubois")
    assert milestones >= 15 and points == kudos + milestones
    larkspur.shot("leaderboard-milestones")

    # The milestones page: Larkspur's rules, the store synced against them.
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Milestones").click()
    main = page.get_by_role("main")
    expect(main).to_contain_text("200 redemptions of the HCP welcome coupon")
    expect(main).to_contain_text("100 redemptions of the congress coupon")
    larkspur.shot("milestones")

    # The pulse survey's latest closed round, with the earlier rounds as a trend.
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Surveys").click()
    page.get_by_role("link", name="Monthly pulse").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Monthly pulse, round 4")
    trend = page.get_by_role("table", name=re.compile("^Trend over earlier rounds"))
    assert trend.get_by_role("rowheader").all_inner_texts() == ["1", "2", "3"]
    larkspur.shot("survey-trend")

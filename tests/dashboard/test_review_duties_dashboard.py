"""Separation of duties on the dashboard's reviews page, over HTTP: an admin who is no
reviewer sees the queue read-only and is refused, a reviewer gets no buttons on (and cannot
decide) a kudos they gave, and a refusal is a 4xx page that changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.dashboard import DashboardConfig
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers import kudos
from handlers.clock import FixedClock
from handlers.events import KudosRequested
from storage.models import AuditEntry, Outbox, Recognition, Review
from tests.dashboard.test_dashboard import (
    HEADER,
    HELD,
    POLICY,
    SECRET,
    Site,
    csrf_of,
    email,
    giving,
    person,
    seed,
)

OWN = "an idea from Rae: show Cardivex in pregnancy at the congress"


@dataclass
class Queue:
    runtime: Runtime
    site: Site
    held: int  # Alice's held kudos, in review
    own: int  # Rae's held kudos, in review (Rae reviews by roster role)
    pokes: list[int] = field(default_factory=list)

    def state(self) -> tuple[object, ...]:
        """What a decision could change: reviews, outcomes, the audit trail, the outbox."""
        with Session(self.runtime.engine) as s:
            return (
                [(r.id, r.status, r.decided_by, r.reason) for r in s.exec(select(Review))],
                [(g.id, g.outcome) for g in s.exec(select(Recognition))],
                len(s.exec(select(AuditEntry)).all()),
                sorted(s.exec(select(Outbox.key))),
            )


@pytest.fixture
def queue(file_engine: Engine) -> Iterator[Queue]:
    clock = FixedClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    runtime = Runtime(engine=file_engine, policy=POLICY, rules=default_rules(), clock=clock)
    ids = seed(runtime, clock)
    event = KudosRequested("duties:own", person("rae"), (person("bob"),), OWN, (), "cli")
    given = runtime.run_sync(giving(event, runtime, clock))
    assert isinstance(given, kudos.Stopped) and given.outcome.value == "hold"

    def review_of(recognition_id: int) -> int:
        with Session(file_engine) as s:
            query = select(Review.id).where(col(Review.recognition_id) == recognition_id)
            found = s.exec(query).one()
            assert found is not None
            return found

    config = DashboardConfig(
        secret_key=SECRET, proxy_header=HEADER, secure_cookies=False, admins=(email("ada"),)
    )
    site = Site(runtime, config).start()
    queue = Queue(runtime, site, review_of(ids["held"]), review_of(given.recognition_id))
    runtime.listeners.append(lambda: queue.pokes.append(1))
    try:
        yield queue
    finally:
        site.stop()
        if runtime._commits is not None:
            runtime._commits.stop()
            runtime._commits = None


def buttons(page: httpx.Response) -> set[tuple[int, str]]:
    """(review id, verdict) of every decision form on the page."""
    found = re.findall(r'action="/dashboard/reviews/(\d+)/(approve|reject)"', page.text)
    return {(int(n), verdict) for n, verdict in found}


def test_an_admin_who_is_no_reviewer_sees_the_queue_read_only_and_is_refused(
    queue: Queue,
) -> None:
    ada = queue.site.client("ada")
    page = ada.get("/dashboard/reviews")
    assert page.status_code == 200 and HELD in page.text and OWN in page.text
    assert buttons(page) == set() and "Approve #" not in page.text
    assert "only reviewers approve or reject held kudos" in page.text
    before = queue.state()

    token = csrf_of(page)  # the sign-out form's: the session's token
    for verdict, form in (("approve", {}), ("reject", {"reason": "Off-label use"})):
        refused = ada.post(
            f"/dashboard/reviews/{queue.held}/{verdict}", data={"csrf": token, **form}
        )
        assert refused.status_code == 403, refused.text
        assert "Only reviewers can approve or reject held kudos" in refused.text
        assert buttons(refused) == set()
    assert queue.state() == before and queue.pokes == []


def test_a_reviewer_gets_no_buttons_on_their_own_kudos_and_cannot_decide_it(
    queue: Queue,
) -> None:
    rae = queue.site.client("rae")  # a reviewer by roster role, and the giver of `own`
    page = rae.get("/dashboard/reviews")
    assert page.status_code == 200 and OWN in page.text
    assert buttons(page) == {(queue.held, "approve"), (queue.held, "reject")}
    assert f"Another reviewer decides on #{queue.own}" in page.text
    before = queue.state()

    token = csrf_of(page)
    for verdict, form in (("approve", {}), ("reject", {"reason": "Off-label, my own words"})):
        refused = rae.post(
            f"/dashboard/reviews/{queue.own}/{verdict}", data={"csrf": token, **form}
        )
        assert refused.status_code == 403, refused.text
        assert f"You gave the kudos in review #{queue.own}" in refused.text
    assert queue.state() == before and queue.pokes == []

    ray = queue.site.client("ray")  # a reviewer named in plaudit.yaml decides instead
    theirs = ray.get("/dashboard/reviews")
    assert {(queue.own, "approve"), (queue.own, "reject")} <= buttons(theirs)
    approved = ray.post(f"/dashboard/reviews/{queue.own}/approve", data={"csrf": csrf_of(theirs)})
    assert approved.status_code == 303
    after = queue.state()

    again = rae.post(f"/dashboard/reviews/{queue.own}/approve", data={"csrf": token})
    assert again.status_code == 409
    assert f"Review #{queue.own} was already approved; nothing was changed." in again.text
    assert queue.state() == after


def test_a_review_that_does_not_exist_is_a_404_not_a_server_error(queue: Queue) -> None:
    rae = queue.site.client("rae")
    token = csrf_of(rae.get("/dashboard/reviews"))
    before = queue.state()
    for number in (99_999, 2**31, 10**30):
        missing = rae.post(f"/dashboard/reviews/{number}/approve", data={"csrf": token})
        assert missing.status_code == 404, missing.text
        assert f"There is no review #{number}." in missing.text
    assert queue.state() == before

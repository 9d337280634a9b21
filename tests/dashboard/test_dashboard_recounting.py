"""While the sprint totals are being recounted the dashboard's board and its CSV export say
so, instead of showing figures only partly recounted."""

from __future__ import annotations

from handlers.leaderboard import recount
from handlers.sprints import SprintCalendar
from storage.db import transaction
from tests.dashboard.test_dashboard import World, world  # noqa: F401 - the fixture


def test_the_board_and_its_export_say_it_is_being_recounted(world: World) -> None:  # noqa: F811
    site = world.serve()
    alice = site.client("alice")
    assert '<th scope="row">Bob</th>' in alice.get("/dashboard/").text
    with transaction(world.runtime.engine) as session:
        other = SprintCalendar(fiscal_start_month=4)
        assert recount.mark(session, calendar=other, now=world.clock.now())
    page = alice.get("/dashboard/")
    assert page.status_code == 200 and "The points are being recounted" in page.text
    assert '<th scope="row">Bob</th>' not in page.text and "<svg" not in page.text
    export = alice.get("/dashboard/export/leaderboard.csv")
    assert export.status_code == 503 and "being recounted" in export.text

"""`dashboard.members_see_top`: a viewer who is only a member sees the first N places of each
board and their own row (with its rank), on the page and in the CSV export; administrators,
reviewers, managers and the safety team see every place; unset, everyone does."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import select

from bot.cli.bootstrap import build_runtime
from bot.config import OrgConfig
from bot.dashboard import DashboardConfig
from bot.settings import Settings
from storage.models import AuditEntry
from tests.dashboard import test_dashboard as base
from tests.harness import audit_proof

world = base.world  # the dashboard over HTTP: Bob 2 points, six others 1 (sprint 2026Q4)
World = base.World
ROW = re.compile(
    r'<tr(?: class="own")?><td>(\d+)(?: <small>\((you|your team)\)</small>)?</td>'
    r'<th scope="row">([^<]+)</th>'
)


def board(page: str, caption: str) -> list[tuple[int, str, str]]:
    """(rank, name, "you" / "your team" / "") of each row of the board with that caption."""
    assert f"<caption>{caption}</caption>" in page
    table = page.split(f"<caption>{caption}</caption>")[1].split("</table>")[0]
    return [(int(rank), name, mark) for rank, mark, name in ROW.findall(table)]


def exported(site: base.Site, who: str, **params: str) -> list[tuple[int, str]]:
    answer = site.client(who).get("/dashboard/export/leaderboard.csv", params=params)
    assert answer.status_code == 200, answer.text
    return [(int(r["rank"]), r["name"]) for r in csv.DictReader(io.StringIO(answer.text))]


def test_members_see_the_top_and_their_own_row_and_the_rest_see_everything(world: World) -> None:
    everything = world.serve().client("alice").get("/dashboard/").text  # unset: the whole board
    people, teams = board(everything, "People"), board(everything, "Teams")
    assert people[0] == (1, "Bob", "") and len(people) > 3
    assert (2, "Alice", "") in people and (2, "Carol", "") in people

    site = world.serve(members_see_top=1)
    for who in ("ada", "rae", "mia", "sam", "bob"):  # admin, reviewer, manager, safety, manager
        page = site.client(who).get("/dashboard/").text
        assert board(page, "People") == people, who
        assert board(page, "Teams") == teams, who
        assert "You see the first" not in page, who

    alice = site.client("alice").get("/dashboard/").text
    assert board(alice, "People") == [(1, "Bob", ""), (2, "Alice", "you")]
    assert teams == [(1, "Digital", ""), (2, "Brand", "")]
    assert board(alice, "Teams") == [(1, "Digital", ""), (2, "Brand", "your team")]
    assert "You see the first 1 place of each board and your own row." in alice
    assert "Carol" not in alice  # in neither the table nor the chart
    dan = site.client("dan").get("/dashboard/").text
    assert board(dan, "People") == [(1, "Bob", ""), (2, "Dan", "you")]
    assert board(dan, "Teams") == [(1, "Digital", "your team")]  # Brand is not his

    settings = site.client("ada").get("/dashboard/configuration").text
    assert "What members see of the leaderboard</th><td>the first 1 place and their own row" in (
        settings
    )
    wider = world.serve(members_see_top=2).client("carol").get("/dashboard/").text
    assert board(wider, "People") == [(r, n, "you" if n == "Carol" else "") for r, n, _ in people]


def test_the_csv_export_follows_the_same_rule_and_is_audited(world: World) -> None:
    site = world.serve(members_see_top=1)
    everyone = exported(site, "ada")
    assert len(everyone) > 3
    assert exported(site, "alice") == [(1, "Bob"), (2, "Alice")]
    assert exported(site, "dan", by="team") == [(1, "Digital")]
    assert exported(site, "alice", by="team") == exported(site, "ada", by="team")
    assert exported(site, "mia") == everyone
    assert exported(world.serve(), "alice") == everyone  # unset

    with world.db() as s:
        entries = s.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "export.leaderboard")
            .order_by(AuditEntry.id)  # type: ignore[arg-type]
        ).all()
        mine = entries[1]
        assert mine.actor == "email:alice@example.com" and mine.subject == "sprint:2026Q4"
        assert mine.detail == {
            "sprint": "2026Q4",
            "by": "person",
            "filters": {},
            "rows": 2,
            "members_see_top": 1,
        }
        assert "members_see_top" not in entries[0].detail  # the admin's: the whole board
        assert audit_proof(s).intact


def test_the_option_is_read_from_plaudit_yaml_and_checked() -> None:
    assert OrgConfig().dashboard.members_see_top == 0
    org = OrgConfig.model_validate({"dashboard": {"members_see_top": 10}})
    assert org.dashboard.members_see_top == 10
    for wrong in (-1, 1001, "ten"):
        with pytest.raises(ValidationError):
            OrgConfig.model_validate({"dashboard": {"members_see_top": wrong}})
    with pytest.raises(ValueError, match="members_see_top"):
        DashboardConfig(secret_key="x" * 32, members_see_top=-1)


def test_plaudit_yaml_reaches_the_runtime_the_server_builds_its_dashboard_from(
    tmp_path: Path, file_engine: Engine
) -> None:
    config = tmp_path / "plaudit.yaml"
    config.write_text("dashboard:\n  members_see_top: 3\n", encoding="utf-8")
    settings = Settings.model_validate(
        {"PLAUDIT_CONFIG": str(config), "PLAUDIT_DATABASE_URL": str(file_engine.url)}
    )
    runtime = build_runtime(settings, upgrade=False)
    try:
        assert runtime.members_see_top == 3
    finally:
        runtime.close()

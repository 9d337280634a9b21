"""The audit trail page over HTTP: fifty entries a page with Newer and Older links that keep
the filters, page numbers bounded, filters by action and by a date range, actors and details
in words (the raw entry one click away), and what the page costs: one page of entries read
along the primary key, however deep the page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, event, text
from sqlmodel import Session

from bot.dashboard.queries_audit import PAGE_SIZE
from storage.queries import append_audit
from tests.dashboard import test_dashboard as base

world = base.world  # the dashboard over HTTP, its roster and kudos seeded by the use cases
World = base.World
DAY = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
ROW_ID = re.compile(r'<th scope="row">(\d+)</th>')


def add(world: World, n: int, *, at: datetime = DAY, **entry: Any) -> list[int]:
    """Append `n` entries (as the use cases do, through `append_audit`), one a minute from
    `at`; their ids, oldest first."""

    def write(s: Session) -> list[int]:
        before = int(
            s.connection().execute(text("SELECT COALESCE(MAX(id), 0) FROM audit_entry")).scalar()
            or 0
        )
        for i in range(n):
            append_audit(
                session=s,
                actor=entry.get("actor", "retention"),
                action=entry.get("action", "retention.purge"),
                subject=entry.get("subject", ""),
                detail=entry.get("detail", {"texts": i}),
                at=at + timedelta(minutes=i),
            )
        found = s.connection().execute(
            text("SELECT id FROM audit_entry WHERE id > :b ORDER BY id"), {"b": before}
        )
        return [int(i) for i in found.scalars()]

    return world.runtime.run_sync(write)


def all_ids(world: World) -> list[int]:
    """Every entry's id, newest first."""
    return world.runtime.run_sync(
        lambda s: [
            int(i)
            for i in s.connection()
            .execute(text("SELECT id FROM audit_entry ORDER BY id DESC"))
            .scalars()
        ]
    )


def shown(page: httpx.Response) -> list[int]:
    """The ids of the entries on an audit page, in the order shown."""
    assert page.status_code == 200, page.text[:300]
    table = page.text.split('<table class="audit">')[1].split("</table>")[0]
    return [int(i) for i in ROW_ID.findall(table)]


def link(page: httpx.Response, rel: str) -> str | None:
    """The Older (`next`) or Newer (`prev`) link's address, if the page has one."""
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page.text)
    return html.unescape(found.group(1)) if found else None


def test_the_trail_pages_fifty_entries_at_a_time_both_ways(world: World) -> None:
    add(world, 120)
    newest = all_ids(world)
    assert len(newest) > 2 * PAGE_SIZE
    ada = world.serve().client("ada")
    first = ada.get("/dashboard/audit")
    assert shown(first) == newest[:PAGE_SIZE]
    assert "The latest 50 entries, newest first" in first.text
    assert link(first, "prev") is None
    older = link(first, "next")
    assert older is not None and "page=2" in older and f"before={newest[PAGE_SIZE - 1]}" in older

    second = ada.get(older)
    assert shown(second) == newest[PAGE_SIZE : 2 * PAGE_SIZE]
    assert "<h1>Audit trail, page 2</h1>" in second.text
    assert shown(ada.get("/dashboard/audit?page=2")) == shown(second)  # typed: the same page
    last_page = -(-len(newest) // PAGE_SIZE)
    page, number = second, 2
    while (older := link(page, "next")) is not None:
        page, number = ada.get(older), number + 1
    assert number == last_page and shown(page) == newest[(last_page - 1) * PAGE_SIZE :]

    # Back again: Newer from the last page, then from page 2 to the plain first page.
    newer = link(page, "prev")
    assert newer is not None and f"after={newest[(last_page - 1) * PAGE_SIZE]}" in newer
    back = ada.get(newer)
    assert shown(back) == newest[(last_page - 2) * PAGE_SIZE : (last_page - 1) * PAGE_SIZE]
    assert link(second, "prev") == "/dashboard/audit"

    # Entries written meanwhile do not shift a page reached by its link.
    add(world, 3, at=DAY + timedelta(days=30))
    assert shown(ada.get(older_of(first))) == newest[PAGE_SIZE : 2 * PAGE_SIZE]


def older_of(page: httpx.Response) -> str:
    found = link(page, "next")
    assert found is not None
    return found


def test_page_numbers_are_bounded(world: World) -> None:
    add(world, 60)
    ada = world.serve().client("ada")
    newest = all_ids(world)
    for wrong in ("0", "-1", "abc", "1e3", "999999999999", ""):
        assert shown(ada.get(f"/dashboard/audit?page={wrong}")) == newest[:PAGE_SIZE], wrong
    beyond = ada.get("/dashboard/audit?page=150")  # past the end: empty, a way back
    assert shown(beyond) == [] and "No entries on this page." in beyond.text
    assert link(beyond, "prev") == "/dashboard/audit" and link(beyond, "next") is None
    too_deep = ada.get("/dashboard/audit?page=201")  # typed without a cursor: refused
    assert too_deep.status_code == 404 and "narrowing the dates" in too_deep.text
    cursor = ada.get(f"/dashboard/audit?page=500&before={newest[PAGE_SIZE - 1]}")
    assert shown(cursor) == newest[PAGE_SIZE:]  # a cursor goes as deep as the trail
    assert site_only_admins(world)


def site_only_admins(world: World) -> bool:
    """Only administrators open the trail."""
    site = world.serve()
    return all(
        site.client(who).get("/dashboard/audit").status_code == 403
        for who in ("alice", "rae", "sam")
    )


def test_filters_by_action_and_date_range_and_keeps_them_when_paging(world: World) -> None:
    exports = add(world, 70, action="export.leaderboard", actor="email:ada@example.com", at=DAY)
    later = add(world, 5, action="retention.purge", at=DAY + timedelta(days=2))
    ada = world.serve().client("ada")
    page = ada.get("/dashboard/audit")
    options = re.findall(r'<option value="([^"]*)"', page.text)
    assert options[0] == "" and {"export.leaderboard", "retention.purge", "kudos.pass"} <= set(
        options
    )
    assert options[1:] == sorted(options[1:])

    by_action = ada.get("/dashboard/audit?action=export.leaderboard")
    assert shown(by_action) == exports[::-1][:PAGE_SIZE]
    assert '<option value="export.leaderboard" selected>' in by_action.text
    older = older_of(by_action)
    assert "action=export.leaderboard" in older
    assert shown(ada.get(older)) == exports[::-1][PAGE_SIZE:]

    one_day = ada.get("/dashboard/audit?from=2026-10-03&to=2026-10-03")
    assert shown(one_day) == later[::-1]
    assert 'value="2026-10-03"' in one_day.text and "from 2026-10-03 to 2026-10-03" in one_day.text
    assert (
        shown(ada.get("/dashboard/audit?from=2026-10-01&to=2026-10-02"))
        == exports[::-1][:PAGE_SIZE]
    )
    both = ada.get("/dashboard/audit?action=retention.purge&to=2026-10-01")
    assert shown(both) == [] and "No entries match these filters." in both.text

    for query, said in (
        ("from=yesterday", "is not a date"),
        ("from=2026-10-05&to=2026-10-01", "ends before it starts"),
        ("action=%3Cscript%3E", "not an action name"),
    ):
        answer = ada.get(f"/dashboard/audit?{query}")
        assert answer.status_code == 200 and said in answer.text, query
        assert shown(answer)[0] == max(later), query  # the filter was left out
    assert "<script>" not in ada.get("/dashboard/audit?action=%3Cscript%3E").text


def test_actors_subjects_and_details_in_words(world: World) -> None:
    ids = world.ids
    add(
        world,
        1,
        actor="dashboard:ada@example.com",
        action="kudos.retracted",
        subject=f"recognition:{ids['site']}",
        detail={"reason": "<b>sent twice</b>", "recipients": [], "text_sha256": "f" * 64},
    )
    add(world, 1, actor="rules:offlabel.registry", action="review.opened", detail={"review": 7})
    add(world, 1, actor="member:999999", action="kudos.reaction", detail={"emoji": "tada"})
    add(world, 1, actor="cli", action="member.deactivated", subject="member:1", detail={})
    ada = world.serve().client("ada")
    page = ada.get("/dashboard/audit").text
    rows = page.split('<table class="audit">')[1].split("<tbody>")[1].split("</tr>")

    def row(action: str) -> str:
        return next(r for r in rows if f"<code>{action}</code>" in r)

    kudos = row("kudos.pass")  # given by a member, to members: names, not ids
    assert "member:" not in kudos.split("<details")[0]
    assert re.search(r"<td class=\"who-did\">\w+<br><small>\w+@example\.com</small>", kudos)
    assert "<dt>Recipients</dt><dd>" in kudos and "text_sha256" not in kudos.split("<details")[0]
    assert "&#34;text_sha256&#34;" in kudos.split("<details")[1]  # the raw entry keeps it
    assert re.search(r"&#34;actor&#34;: &#34;member:\d+&#34;", kudos)

    retracted = row("kudos.retracted")
    assert "Ada<br><small>ada@example.com, on the dashboard</small>" in retracted
    assert f"<td>Kudos #{ids['site']}</td>" in retracted
    assert "<dt>Reason</dt><dd>&lt;b&gt;sent twice&lt;/b&gt;</dd>" in retracted
    assert "<dt>Recipients</dt>" not in retracted  # empty: left out
    assert "Compliance rules<br><small>offlabel.registry</small>" in row("review.opened")
    assert "Member #999999<br><small>no longer on the roster</small>" in row("kudos.reaction")
    deactivated = row("member.deactivated")
    assert "Command line (plaudit)" in deactivated and "<dl" not in deactivated
    assert "<summary>Raw entry" in deactivated


def test_the_page_reads_one_page_of_entries_along_the_primary_key(world: World) -> None:
    add(world, 300)
    ada = world.serve().client("ada")
    deep = older_of(ada.get("/dashboard/audit?page=4"))  # page 5, by its cursor
    with statements(world.runtime.engine) as seen:
        page = ada.get(deep)
    assert len(shown(page)) == PAGE_SIZE
    entries = [(sql, p) for sql, p in seen if "FROM audit_entry" in sql and ".detail" in sql]
    assert len(entries) == 1, seen
    sql, parameters = entries[0]
    values = list(parameters.values() if isinstance(parameters, dict) else parameters)
    assert "LIMIT" in sql and "audit_entry.id <" in sql and PAGE_SIZE + 1 in values
    assert "OFFSET" not in sql or values[-1] == 0  # SQLite writes OFFSET 0 after every LIMIT
    counted = [q for q, _ in seen if "count(" in q.lower() and "FROM audit_entry" in q]
    assert all("seq" in q for q in counted), counted  # the seal's counts of unsealed rows only
    if world.runtime.engine.dialect.name == "sqlite":
        plan = world.runtime.run_sync(
            lambda s: " ".join(
                str(r[-1])
                for r in s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters)
            )
        )
        assert "TEMP B-TREE" not in plan and "audit_entry" in plan, plan  # walked in id order


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL run on `engine` meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        seen.append((sql, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)

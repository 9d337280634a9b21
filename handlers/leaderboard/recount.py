"""Recounting the sprint totals sprint by sprint, in the background, while kudos go on.

When the sprint settings change (or a database's totals were never counted) the kept
totals no longer say what the recognitions do. A server does not wait for a recount:
start-up only marks one pending (`mark`), every board says it is being recounted while
it is pending, and the scheduler's leader recounts (`recount`).

Each sprint is recounted in two steps, so that no transaction a kudos waits for is long:

1. count: in one read-only snapshot (REPEATABLE READ on PostgreSQL; on SQLite a deferred
   transaction, which WAL lets the writer go on beside), the sprint's figures are counted
   afresh from the recognitions and awards (F) and its kept rows are read (K). This is the
   slow part, and it takes no lock.
2. settle: short write transactions add F - K to the kept rows, `CHUNK` rows at a time.

A kudos tallies in the transaction that publishes it or takes it back, so after the
snapshot the kept rows move only by the tallies of kudos the snapshot does not see. After
the settle a row holds K + (those tallies) + F - K = F + (those tallies): what a full
recount gives, each kudos counted once, in F when committed before the snapshot and by
its own tally when after. Whatever rewrites totals wholesale (`sprints.rebuild`, a settle,
a repair) moves the generation kept in the totals' state, whose row every writer of it
locks first; a settle whose snapshot saw another generation is refused and the sprint is
counted again, so no difference is ever added twice, whoever else recounts meanwhile.

With every sprint settled, the rows of sprints the settings no longer have are dropped,
and one transaction writes the settings' fingerprint and ends the pending mark: boards go
from "being recounted" to the recounted figures at once. A recount stopped half-way
resumes with the sprints not yet done (kept in the mark).

`verify` counts the current sprint the same way and adds any difference: the cheap check
the leader makes once after it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, delete, select, text
from sqlmodel import Session

from handlers import sprints
from handlers.leaderboard import counting
from handlers.leaderboard.counting import Figures
from handlers.sprints import Sprint, SprintCalendar
from storage.models import LeaderboardTotal, MilestoneAward, Recognition

T = TypeVar("T")
Key = tuple[str, int]  # (value tag, member); tag '' is all tags
CHUNK = 5_000  # rows one settling transaction changes: kudos never wait long behind it
ATTEMPTS = 5  # counts of one sprint before giving up until the next run
_total = LeaderboardTotal.__table__  # type: ignore[attr-defined]
_recognition = Recognition.__table__  # type: ignore[attr-defined]
_award = MilestoneAward.__table__  # type: ignore[attr-defined]


class Runner(Protocol):
    """Runs a unit of work in a transaction and returns its result."""

    def __call__(self, work: Callable[[Session], T], /) -> T: ...


class Superseded(Exception):
    """Another process marked a recount under other sprint settings."""


@dataclass(frozen=True)
class Counted:
    """A sprint's figures counted afresh, and its kept rows, as of one snapshot."""

    sprint: Sprint
    generation: int
    fingerprint: str | None  # the settings the totals are counted under; None: pending
    fresh: dict[Key, Figures]
    kept: dict[Key, Figures]

    def differences(self) -> dict[Key, Figures]:
        """What to add to the kept rows to make them the fresh figures."""
        found: dict[Key, Figures] = {}
        for key in self.fresh.keys() | self.kept.keys():
            f, k = self.fresh.get(key, (0, 0, 0)), self.kept.get(key, (0, 0, 0))
            change = (f[0] - k[0], f[1] - k[1], f[2] - k[2])
            if any(change):
                found[key] = change
        return found


@dataclass(frozen=True)
class Plan:
    sprints: tuple[Sprint, ...]
    done: frozenset[str]  # settled already (by a run that stopped, or another process)


@dataclass(frozen=True)
class Recounted:
    sprints: int  # sprints this run counted again
    finished: bool  # False: stopped, or superseded by other settings


@dataclass(frozen=True)
class Verified:
    sprint: str
    repaired: int  # (tag, member) rows that differed from a recount, now repaired


def recounting(session: Session) -> bool:
    """True while a recount is pending: boards say so instead of partly recounted figures."""
    return bool(sprints.state(session).get("recount"))


def mark(session: Session, *, calendar: SprintCalendar, now: datetime) -> bool:
    """Mark a recount pending when the totals were counted under other settings (or never);
    True when one is pending. A database with nothing to count is current at once."""
    value = sprints.state(session, lock=True)
    target = calendar.fingerprint()
    pending: dict[str, Any] = value.get("recount") or {}
    if pending.get("target") == target:
        return True
    if value.get("fingerprint") == target and not pending:
        return False
    if _empty(session):
        sprints.remember(session, calendar, now)
        return False
    recount = {"target": target, "done": []}
    sprints.save_state(session, {**value, "fingerprint": None, "recount": recount}, now)
    return True


def _empty(session: Session) -> bool:
    conn = session.connection()
    for table in (_recognition, _award, _total):
        if conn.execute(select(table.c.id).limit(1)).first() is not None:
            return False
    return True


def recount(
    calendar: SprintCalendar,
    *,
    read: Runner,
    write: Runner,
    now: datetime,
    stop: Callable[[], bool] = lambda: False,
) -> Recounted | None:
    """Recount the pending recount's sprints one by one (see the module); None when none
    is pending. `read` runs the counts (`reader`), `write` the settling transactions;
    `stop` is asked between sprints."""
    plan = write(partial(_plan, calendar=calendar, now=now))
    if plan is None:
        return None
    target = calendar.fingerprint()
    done = 0
    try:
        for sprint in plan.sprints:
            if stop():
                return Recounted(done, finished=False)
            if sprint.id not in plan.done:
                _recount_sprint(sprint, read=read, write=write, target=target, now=now)
                done += 1
        known = {s.id for s in plan.sprints}
        for sprint_id in sorted(read(_kept_sprints) - known):
            if stop():
                return Recounted(done, finished=False)
            done += _recount_or_drop(sprint_id, calendar, read, write, now=now)
        finished = write(partial(_finish, calendar=calendar, now=now))
    except Superseded:
        return Recounted(done, finished=False)
    return Recounted(done, finished)


def verify(
    calendar: SprintCalendar, *, read: Runner, write: Runner, now: datetime
) -> Verified | None:
    """Count the current sprint afresh and repair its totals where they differ; None when
    there is nothing to verify (no current sprint, or the totals await a recount)."""
    sprint = calendar.sprint_of(now)
    if sprint is None:
        return None
    for _ in range(ATTEMPTS):
        counted = read(partial(count, sprint=sprint))
        if counted.fingerprint != calendar.fingerprint():
            return None
        differences = counted.differences()
        if not differences:
            return Verified(sprint.id, 0)
        if _apply(counted, write=write, target=None, now=now):
            return Verified(sprint.id, len(differences))
    raise RuntimeError(f"the totals of sprint {sprint.id} kept changing while verified")


def _plan(session: Session, *, calendar: SprintCalendar, now: datetime) -> Plan | None:
    value = sprints.state(session, lock=True)
    pending: dict[str, Any] | None = value.get("recount")
    if not pending:
        return None
    target = calendar.fingerprint()
    if pending.get("target") != target:
        # Marked by a process with other settings: this one's settings are what it counts.
        pending = {"target": target, "done": []}
        sprints.save_state(session, {**value, "recount": pending}, now)
    first, last = counting.span(session) or (now, now)
    found = counting.sprints_between(calendar, (min(first, now), max(last, now)))
    return Plan(tuple(found), frozenset(pending.get("done") or ()))


def _recount_sprint(
    sprint: Sprint, *, read: Runner, write: Runner, target: str | None, now: datetime
) -> None:
    for _ in range(ATTEMPTS):
        counted = read(partial(count, sprint=sprint))
        if _apply(counted, write=write, target=target, now=now):
            return
    raise RuntimeError(f"the totals of sprint {sprint.id} kept being rewritten while recounted")


def _apply(counted: Counted, *, write: Runner, target: str | None, now: datetime) -> bool:
    """Settle the differences chunk by chunk; False when the totals were rewritten since
    they were counted (count again)."""
    changes = counting.rows(counted.sprint.id, counted.differences())
    chunks = [changes[i : i + CHUNK] for i in range(0, len(changes), CHUNK)] or [[]]
    generation = counted.generation
    for n, chunk in enumerate(chunks):
        moved = write(
            partial(
                settle,
                sprint=counted.sprint,
                rows=chunk,
                generation=generation,
                target=target,
                last=n == len(chunks) - 1,
                now=now,
            )
        )
        if moved is None:
            return False
        generation = moved
    return True


def _recount_or_drop(
    sprint_id: str, calendar: SprintCalendar, read: Runner, write: Runner, *, now: datetime
) -> int:
    """Rows kept for a sprint outside the plan: recount it when these settings have it (a
    kudos dated outside the range planned, say), otherwise drop them, a chunk at a time."""
    target = calendar.fingerprint()
    sprint = calendar.by_id(sprint_id, near=now)
    if sprint is not None:
        _recount_sprint(sprint, read=read, write=write, target=target, now=now)
        return 1
    while write(partial(_drop, sprint_id=sprint_id, target=target)) >= CHUNK:
        pass
    return 0


def count(session: Session, *, sprint: Sprint) -> Counted:
    """The sprint's fresh figures and kept rows (run it in a snapshot: `reader`)."""
    value = sprints.state(session)
    query = select(
        _total.c.value_tag,
        _total.c.member_id,
        _total.c.received,
        _total.c.given,
        _total.c.milestone,
    ).where(_total.c.sprint == sprint.id)
    kept = {
        (str(tag), int(member)): (int(r), int(g), int(m))
        for tag, member, r, g, m in session.connection().execute(query)
    }
    return Counted(
        sprint=sprint,
        generation=int(value.get("generation", 0)),
        fingerprint=None if value.get("recount") else value.get("fingerprint"),
        fresh=counting.count_sprint(session, sprint),
        kept=kept,
    )


def settle(
    session: Session,
    *,
    sprint: Sprint,
    rows: list[dict[str, object]],
    generation: int,
    target: str | None,
    last: bool,
    now: datetime,
) -> int | None:
    """Add one chunk of a sprint's differences; the next generation, or None when the
    totals were rewritten since they were counted. `last` ends the sprint: its awards are
    labelled, its empty rows dropped and, in a recount (`target`), it is marked done."""
    value = sprints.state(session, lock=True)
    if int(value.get("generation", 0)) != generation:
        return None
    pending = _pending(value, target)
    sprints.add_totals(session, rows)
    if last:
        counting.move_awards(session, sprint)
        empty = [_total.c[c] == 0 for c in ("received", "given", "milestone", "points")]
        session.connection().execute(delete(_total).where(_total.c.sprint == sprint.id, *empty))
        if pending is not None:
            pending = {**pending, "done": [*pending.get("done", ()), sprint.id]}
    value = {**value, "generation": generation + 1}
    sprints.save_state(session, value | ({"recount": pending} if pending else {}), now)
    return generation + 1


def _pending(value: dict[str, Any], target: str | None) -> dict[str, Any] | None:
    """The pending recount a step of recount `target` belongs to (None for a repair)."""
    if target is None:
        return None
    pending: dict[str, Any] | None = value.get("recount")
    if not pending or pending.get("target") != target:
        raise Superseded(target)
    return pending


def _kept_sprints(session: Session) -> set[str]:
    found = session.connection().execute(select(_total.c.sprint).distinct()).scalars()
    return {str(s) for s in found}


def _drop(session: Session, *, sprint_id: str, target: str) -> int:
    """Drop up to `CHUNK` rows of a sprint the settings no longer have."""
    _pending(sprints.state(session, lock=True), target)
    chunk = select(_total.c.id).where(_total.c.sprint == sprint_id).limit(CHUNK)
    gone = session.connection().execute(delete(_total).where(_total.c.id.in_(chunk)))
    return int(gone.rowcount or 0)


def _finish(session: Session, *, calendar: SprintCalendar, now: datetime) -> bool:
    """End the pending recount: the totals are counted under `calendar` from now on."""
    value = sprints.state(session, lock=True)
    pending: dict[str, Any] = value.get("recount") or {}
    if pending.get("target") != calendar.fingerprint():
        # Ended by someone else already (done), or taken over by other settings (not).
        return not pending and value.get("fingerprint") == calendar.fingerprint()
    sprints.remember(session, calendar, now)
    if session.get_bind().dialect.name == "postgresql":
        # Fresh statistics after many rows changed, for the boards' index scans.
        session.connection().execute(text("ANALYZE leaderboard_total"))
    return True


# -- reading a snapshot ---------------------------------------------------------------------


def reader(engine: Engine, fallback: Runner) -> Runner:
    """How `count` reads: a snapshot on a connection of its own; `fallback` for an
    in-memory SQLite database, whose one connection every session shares."""
    database = engine.url.database or ""
    if engine.dialect.name == "sqlite" and database in ("", ":memory:"):
        return fallback

    def read(work: Callable[[Session], T]) -> T:
        return read_snapshot(engine, work)

    return read


def read_snapshot(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run read-only `work` on one consistent snapshot, holding no lock a writer waits for."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with Session(bind=conn) as session:
            if engine.dialect.name == "sqlite":
                # Plaudit's SQLite transactions begin IMMEDIATE (storage.db), holding the
                # write lock throughout; a deferred one reads a snapshot beside the writer.
                session.connection().exec_driver_sql("COMMIT")
                session.connection().exec_driver_sql("BEGIN")
            else:
                session.connection().exec_driver_sql("SET TRANSACTION READ ONLY")
            try:
                return work(session)
            finally:
                session.rollback()

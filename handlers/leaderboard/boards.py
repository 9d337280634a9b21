"""Sprint leaderboards: people, teams and givers, with filters and dense ranks.

Who is on a board: active members who are not bots and not excluded in `plaudit.yaml`
(`sprints.exclude`). A person's points are the recognitions they received in the sprint
(published, not taken back) plus their share of the campaign milestones awarded in it;
filtering by a value counts only recognitions tagged with it. Equal points share a rank,
and the next rank follows on (1, 2, 2, 3). While the totals are being recounted a board
has no rows and says so (`recounting`), rather than show figures only partly recounted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sqlalchemy import text
from sqlmodel import Session

from handlers.i18n import N_, _, joined
from handlers.leaderboard.recount import recounting
from handlers.sprints import Sprint
from storage import people

By = Literal["person", "team", "givers"]
# Shown with `_()`; the dashboard's export answers with the English as it stands.
RECOUNTING = N_(
    "The points are being recounted after a change to the sprint settings; "
    "the board is back in a few minutes."
)


_FILTER = {
    "team": N_("team {value}"),
    "region": N_("region {value}"),
    "therapeutic_area": N_("therapeutic area {value}"),
    "value": N_("value {value}"),
}


@dataclass(frozen=True)
class Filters:
    team: str | None = None
    region: str | None = None
    therapeutic_area: str | None = None
    value: str | None = None  # a value tag such as #site-activation

    def describe(self) -> str:
        """The filters as a board's title names them, in the current language."""
        parts = [_(_FILTER[k], value=v) for k, v in asdict(self).items() if v]
        return joined(parts)


@dataclass(frozen=True)
class Row:
    rank: int
    name: str  # display name, or the team
    email: str | None
    slack_id: str | None
    points: int
    recognition_points: int
    milestone_points: int


@dataclass(frozen=True)
class Board:
    sprint: str
    start: str
    end: str
    by: By
    filters: Filters
    rows: tuple[Row, ...]
    eligible: str = "active members who are not bots"
    excluded: tuple[str, ...] = field(default_factory=tuple)
    recounting: bool = False

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.recounting:
            del data["recounting"]  # posts and frozen snapshots keep the shape they had
        return data


def _where(
    session: Session, filters: Filters, exclude: Sequence[str], workspace: str | None = None
) -> tuple[str, dict[str, Any]]:
    clauses = ["m.active = :active", "m.is_bot = :bot"]
    params: dict[str, Any] = {"active": True, "bot": False}
    if workspace is not None:
        # Points live on members, and a member belongs to one Slack workspace: a board of
        # one workspace is its members' rows.
        clauses.append(f"{people.workspace_sql('m')} = :workspace")
        params["workspace"] = workspace
    for name in ("team", "region", "therapeutic_area"):
        value = getattr(filters, name)
        if value:
            # Match any case, but filter on the stored spelling: a plain column comparison
            # the planner has statistics for, so it reads the totals in points order.
            spelled = (
                session.connection()
                .execute(
                    text(f"SELECT DISTINCT {name} FROM member WHERE LOWER({name}) = :v"),
                    {"v": value.lower()},
                )
                .scalars()
                .all()
            )
            names = list(spelled) or [value]
            keys = [f"{name}{i}" for i in range(len(names))]
            clauses.append(f"m.{name} IN ({', '.join(':' + k for k in keys)})")
            params |= dict(zip(keys, names, strict=True))
    for i, email in enumerate(exclude):
        clauses.append(f"(m.email IS NULL OR LOWER(m.email) <> :ex{i})")
        params[f"ex{i}"] = email.lower()
    return " AND ".join(clauses), params


def board(
    session: Session,
    sprint: Sprint,
    *,
    by: By = "person",
    filters: Filters = Filters(),
    exclude: Sequence[str] = (),
    top: int | None = 10,
    workspace: str | None = None,
    most: int | None = None,
) -> Board:
    """The ranked board; `top` keeps the first N ranks (ties at the edge stay in), `most`
    at most that many rows of them (a glance at the board, where a tie of thousands would
    cost more than everything else); `workspace` keeps the members of that Slack
    workspace only.

    People and givers are read from `leaderboard_total` in index order: first the points
    of the Nth rank (the Nth distinct value, so reading stops early), then every row at or
    above it. Teams add up their members' rows."""
    if recounting(session):
        return _board(sprint, by, filters, (), exclude, recounting=True)
    where, params = _where(session, filters, exclude, workspace)
    params |= {"sprint": sprint.id, "tag": (filters.value or "").lower()}
    conn = session.connection()
    if by == "team":
        scored = conn.execute(text(_team_sql(where)), params).all()
    else:
        nth_sql, rows_sql = _people_sql(by, where)
        floor = 1
        if top is not None:
            nth = conn.execute(text(nth_sql), params | {"skip": max(top, 1) - 1}).scalar()
            floor = int(nth) if nth is not None else 1
        if most is not None:  # the highest first; within a tie, the longest known
            rows_sql += " ORDER BY points DESC, m.id LIMIT :most"
            params["most"] = max(most, 1)
        scored = conn.execute(text(rows_sql), params | {"floor": floor}).all()
    rows = _ranked(
        [
            (
                r.name,
                r.email,
                r.slack_id,
                int(r.points),
                int(r.recognition_points),
                int(r.milestone_points),
            )
            for r in scored
        ],
        top,
    )
    return _board(sprint, by, filters, rows, exclude)


def _board(
    sprint: Sprint,
    by: By,
    filters: Filters,
    rows: Sequence[Row],
    exclude: Sequence[str],
    *,
    recounting: bool = False,
) -> Board:
    return Board(
        sprint=sprint.id,
        start=sprint.start.isoformat(),
        end=sprint.end.isoformat(),
        by=by,
        filters=filters,
        rows=tuple(rows),
        excluded=tuple(exclude),
        recounting=recounting,
    )


def _team_sql(where: str) -> str:
    """Each team's points: the sum of its members' rows."""
    return f"""SELECT m.team AS name, NULL AS email, NULL AS slack_id,
                      SUM(t.received) AS recognition_points,
                      SUM(t.milestone) AS milestone_points,
                      SUM(t.points) AS points
               FROM leaderboard_total t JOIN member m ON m.id = t.member_id
               WHERE t.sprint = :sprint AND t.value_tag = :tag AND m.team IS NOT NULL
                 AND {where}
               GROUP BY m.team
               HAVING SUM(t.points) > 0"""


def _people_sql(by: By, where: str) -> tuple[str, str]:
    """(the Nth distinct score, taking `:skip`; every row scoring at least `:floor`) for a
    board of people or of givers."""
    score = "t.given" if by == "givers" else "t.points"
    kudos = "t.given" if by == "givers" else "t.received"
    milestone = "0" if by == "givers" else "t.milestone"
    source = f"""FROM leaderboard_total t JOIN member m ON m.id = t.member_id
                 WHERE t.sprint = :sprint AND t.value_tag = :tag AND {score} > 0
                   AND {where}"""
    nth = f"SELECT DISTINCT {score} AS s {source} ORDER BY {score} DESC LIMIT 1 OFFSET :skip"
    rows = f"""SELECT m.display_name AS name, m.email AS email,
                      {people.platform_id_sql("m", "slack")} AS slack_id, {score} AS points,
                      {kudos} AS recognition_points, {milestone} AS milestone_points
               {source} AND {score} >= :floor"""
    return nth, rows


def _ranked(
    scored: list[tuple[str, str | None, str | None, int, int, int]], top: int | None
) -> list[Row]:
    """Dense ranks, highest first, names in order within a rank; the first `top` ranks."""
    rows: list[Row] = []
    rank = 0
    previous: int | None = None
    for name, email, slack_id, points, kudos, milestone in sorted(
        scored, key=lambda r: (-r[3], str(r[0]))
    ):
        if points != previous:
            rank += 1
            previous = points
        if top is not None and rank > top:
            break
        rows.append(Row(rank, str(name), email, slack_id, points, kudos, milestone))
    return rows


# A board's title per kind, whole so a translation can agree with it.
_TITLE = {
    "person": N_("Leaderboard, sprint {sprint}"),
    "team": N_("Team leaderboard, sprint {sprint}"),
    "givers": N_("Most appreciative, sprint {sprint}"),
}


def lines(b: Board) -> list[str]:
    """The board as plain text, for chat and the terminal, in the current language."""
    head = _(_TITLE[b.by], sprint=b.sprint)
    described = b.filters.describe()
    if described:
        head = _("{title} ({filters})", title=head, filters=described)
    if b.recounting:
        return [head, _(RECOUNTING)]
    if not b.rows:
        return [head, _("No points yet.")]
    return [head, *(_row(row) for row in b.rows)]


def _row(row: Row) -> str:
    if not row.milestone_points:
        return _("{rank}. {name}: {points}", rank=row.rank, name=row.name, points=row.points)
    return _(
        "{rank}. {name}: {points} ({kudos} kudos + {milestones} milestone)",
        rank=row.rank,
        name=row.name,
        points=row.points,
        kudos=row.recognition_points,
        milestones=row.milestone_points,
    )

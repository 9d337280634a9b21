"""Figures from before Plaudit, imported from a CSV file: a team's eNPS, engagement score or
survey participation over a period, for comparing pilots with what came before."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlmodel import Session, select

from storage import queries
from storage.models import BaselineFigure

COLUMNS = ("metric", "team", "start", "end", "value", "people")
METRICS = ("enps", "engagement", "participation")
_RANGES = {"enps": (-100, 100), "participation": (0, 1), "engagement": (-1e6, 1e6)}


class BaselineError(ValueError):
    """A row that cannot be imported, and why (the message names its line and column)."""


@dataclass(frozen=True)
class Figure:
    metric: str
    team: str
    start: date
    end: date
    value: Decimal
    people: int


def _number(text: str, metric: str) -> Decimal:
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        value = Decimal(raw.rstrip("%").strip())
    except InvalidOperation:
        raise BaselineError(f"value: {raw[:30]!r} is not a number") from None
    if percent and metric == "participation":
        value /= 100
    low, high = _RANGES[metric]
    if not value.is_finite() or not low <= value <= high:
        raise BaselineError(f"value: {raw[:30]} is outside {low} to {high} for {metric}")
    return value.quantize(Decimal("0.01"))


def read(row: Mapping[str, str | None], today: date) -> Figure:
    """One row of the file: BaselineError naming the column that is wrong."""
    cells = {k: (row.get(k) or "").strip() for k in COLUMNS}
    metric = cells["metric"].lower()
    if metric not in METRICS:
        raise BaselineError(f"metric: {metric[:30]!r} is not one of {', '.join(METRICS)}")
    if not cells["team"] or len(cells["team"]) > 120:
        raise BaselineError("team: required, at most 120 characters")
    try:
        start, end = date.fromisoformat(cells["start"]), date.fromisoformat(cells["end"])
    except ValueError:
        raise BaselineError("start and end: days as YYYY-MM-DD") from None
    if end < start or end > today:
        raise BaselineError("end: on or after start, and not in the future")
    if not cells["people"].isdigit() or int(cells["people"]) < 1:
        raise BaselineError("people: a whole number of people, 1 or more")
    value = _number(cells["value"], metric)
    return Figure(metric, cells["team"], start, end, value, int(cells["people"]))


def read_all(rows: Sequence[tuple[int, Mapping[str, str | None]]], today: date) -> list[Figure]:
    """Every row, or BaselineError for the first bad one, by its line."""
    figures = []
    for line, row in rows:
        try:
            figures.append(read(row, today))
        except BaselineError as exc:
            raise BaselineError(f"line {line}: {exc}") from None
    return figures


def store(figures: Sequence[Figure], *, session: Session, now: datetime) -> tuple[int, int]:
    """Add the figures, replacing any of the same metric, team and start: (added, replaced)."""
    added = replaced = 0
    for f in figures:
        found = session.exec(
            select(BaselineFigure).where(
                BaselineFigure.metric == f.metric,
                BaselineFigure.team == f.team,
                BaselineFigure.period_start == f.start,
            )
        ).first()
        if found is None:
            found = BaselineFigure(metric=f.metric, team=f.team, period_start=f.start,
                                   period_end=f.end, value=f.value, people=f.people,
                                   imported_at=now)  # fmt: skip
            added += 1
        else:
            found.period_end, found.value, found.people = f.end, f.value, f.people
            found.imported_at = now
            replaced += 1
        session.add(found)
    session.flush()
    queries.append_audit(
        session=session,
        actor="cli",
        action="baseline.imported",
        subject="baseline",
        detail={"added": added, "replaced": replaced},
        at=now,
    )
    return added, replaced

"""The pilots' comparison, worked out in the background and kept for the inputs it was
worked out from: the rollout, the threshold and the day. Counting each window's kudos per
member takes about a second at a million kudos, too long for a page; the scheduler runs
`keep` with the analytics rollups, and the page reads `kept` when its inputs are the same,
else works it out as before. The figures are those of `pilots.compare` at `computed_at`.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlmodel import Session

from handlers import pilots
from handlers.collaboration import execute
from handlers.rollout import Rollout
from storage.models import KeptFigures

NAME = "pilots"
_KEPT = KeptFigures.metadata.tables["kept_figures"]


def inputs(rollout: Rollout, today: date, least: int) -> str:
    """A digest of what the comparison depends on besides the data."""
    return hashlib.sha256(f"{rollout!r}|{today.isoformat()}|{least}".encode()).hexdigest()


def _figure(f: pilots.Figure) -> list[Any]:
    return [f.value, f.people, f.held]


def to_json(found: pilots.Comparison) -> dict[str, Any]:
    return {
        "pilot": found.pilot.id,
        "control": found.control.id,
        "before": [d.isoformat() for d in found.before],
        "after": [d.isoformat() for d in found.after],
        "rows": [
            [
                r.metric,
                *(
                    _figure(f)
                    for f in (r.pilot_before, r.pilot_after, r.control_before, r.control_after)
                ),
            ]
            for r in found.rows
        ],
    }


def from_json(rollout: Rollout, body: dict[str, Any]) -> pilots.Comparison | None:
    """The comparison kept, with the rollout's cohorts; None if they are not in it."""
    cohorts = {c.id: c for c in rollout.cohorts}
    pilot, control = cohorts.get(body["pilot"]), cohorts.get(body["control"])
    if pilot is None or control is None:
        return None
    before_first, before_last = (date.fromisoformat(d) for d in body["before"])
    after_first, after_last = (date.fromisoformat(d) for d in body["after"])
    rows = [
        pilots.Row(metric, *(pilots.Figure(v, int(n), bool(h)) for v, n, h in figures))
        for metric, *figures in body["rows"]
    ]
    return pilots.Comparison(
        pilot, control, (before_first, before_last), (after_first, after_last), rows, pilots.LIMITS
    )


def keep(session: Session, rollout: Rollout, *, today: date, least: int, now: datetime) -> bool:
    """Work the comparison out and keep it; whether there is one."""
    found = pilots.compare(session, rollout, today=today, least=least)
    execute(session, delete(_KEPT).where(_KEPT.c.name == NAME))
    if found is None:
        return False
    execute(
        session,
        insert(_KEPT).values(
            name=NAME,
            inputs=inputs(rollout, today, least),
            computed_at=now,
            body=to_json(found),
        ),
    )
    return True


def kept(
    session: Session, rollout: Rollout, *, today: date, least: int
) -> tuple[pilots.Comparison, datetime] | None:
    """The kept comparison and when it was worked out, if it was for these inputs."""
    row = execute(
        session,
        select(_KEPT.c.inputs, _KEPT.c.computed_at, _KEPT.c.body).where(_KEPT.c.name == NAME),
    ).first()
    if row is None or row[0] != inputs(rollout, today, least):
        return None
    found = from_json(rollout, row[2])
    return (found, row[1]) if found is not None else None

"""Closing a sprint's boards: snapshots frozen with a hash, and board posts for chat."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, select

from handlers import messages
from handlers.leaderboard.boards import board
from handlers.leaderboard.recount import recounting
from handlers.messages import Template
from handlers.sprints import Sprint
from storage import queries
from storage.models import SprintSnapshot

# -- snapshots ------------------------------------------------------------------------------


def _digest(data: dict[str, Any]) -> str:
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def freeze(
    session: Session,
    sprint: Sprint,
    *,
    now: datetime,
    rules: dict[str, Any],
    exclude: Sequence[str] = (),
) -> SprintSnapshot:
    """Freeze a closed sprint once: its boards, the settings in force, and a hash of both.
    Refused (ValueError) while the totals are being recounted: a frozen board is final."""
    existing = session.exec(
        select(SprintSnapshot).where(SprintSnapshot.sprint == sprint.id)
    ).first()
    if existing is not None:
        return existing
    if recounting(session):
        raise ValueError(f"sprint {sprint.id}: the totals are being recounted; freeze it after")
    boards = {
        by: board(session, sprint, by=by, exclude=exclude, top=None).as_json()
        for by in ("person", "team", "givers")
    }
    awards = session.connection().execute(
        text(
            "SELECT key, title, points, team, awarded_at FROM milestone_award "
            "WHERE sprint = :sprint ORDER BY id"
        ),
        {"sprint": sprint.id},
    )
    data = {
        "sprint": sprint.id,
        "start": sprint.start.isoformat(),
        "end": sprint.end.isoformat(),
        "boards": boards,
        "milestones_awarded": [
            {
                "key": a.key,
                "title": a.title,
                "points": a.points,
                "team": a.team,
                "awarded_at": str(a.awarded_at),
            }
            for a in awards
        ],
        "rules": rules,
    }
    snapshot = SprintSnapshot(sprint=sprint.id, closed_at=now, data=data, sha256=_digest(data))
    session.add(snapshot)
    session.flush()
    queries.append_audit(
        session=session,
        actor="schedule",
        action="sprint.frozen",
        subject=f"sprint:{sprint.id}",
        detail={"sha256": snapshot.sha256},
        at=now,
    )
    return snapshot


def verify(snapshot: SprintSnapshot) -> bool:
    """Is the snapshot as it was frozen?"""
    return _digest(snapshot.data) == snapshot.sha256


# -- posting --------------------------------------------------------------------------------


def queue_post(
    session: Session,
    sprint: Sprint,
    *,
    key: str,
    channel: str | None,
    workspace: str | None,
    final: bool,
    exclude: Sequence[str] = (),
    top: int = 10,
    data: dict[str, Any] | None = None,
    teams_channel: str | None = None,
    only_workspace: str | None = None,
) -> bool:
    """Queue a board for the Slack channel and/or Teams channel (once per key): people
    and teams, as figures and a chart rendered when it is sent. `data` is a frozen
    snapshot's boards, when there is one, so the final post shows exactly what was frozen.
    `only_workspace`: the Slack post shows that workspace's people only (workspaces
    counted apart); the Teams post shows everyone."""

    def payload(space: str | None) -> dict[str, Any]:
        boards = (data if space is None else None) or {
            "person": board(session, sprint, exclude=exclude, top=top, workspace=space).as_json(),
            "team": board(
                session, sprint, by="team", exclude=exclude, top=5, workspace=space
            ).as_json(),
        }
        return {
            "sprint": sprint.id,
            "final": final,
            "person": boards["person"],
            "team": boards["team"],
            "top": top,
        }

    queued = [
        messages.message(
            Template.LEADERBOARD_POST,
            payload(only),
            key=key + suffix,
            platform=platform,
            workspace=space,
            channel=where,
            kind="post",
        )
        for platform, space, where, suffix, only in (
            ("slack", workspace, channel, "", only_workspace),
            ("teams", None, teams_channel, ":teams", None),
        )
        if where
    ]
    return queries.enqueue_many(session=session, messages=queued) > 0


def close_sprint(
    session: Session,
    sprint: Sprint,
    *,
    now: datetime,
    rules: dict[str, Any],
    channel: str | None,
    workspace: str | None,
    exclude: Sequence[str] = (),
    top: int = 10,
    teams_channel: str | None = None,
    only_workspace: str | None = None,
) -> SprintSnapshot | None:
    """Freeze a sprint that has ended and queue its final board; None if not ended yet (or
    while the totals are being recounted). With `only_workspace` the snapshot still holds
    the whole organisation; the Slack post shows that workspace's people, counted when the
    sprint is closed."""
    if now < sprint.end or recounting(session):
        return None
    snapshot = freeze(session, sprint, now=now, rules=rules, exclude=exclude)
    if channel or teams_channel:
        frozen = snapshot.data["boards"]
        person = {**frozen["person"], "rows": frozen["person"]["rows"][: _cut(frozen, top)]}
        team = {**frozen["team"], "rows": frozen["team"]["rows"][:5]}
        queue_post(
            session,
            sprint,
            key=f"leaderboard:{sprint.id}:final",
            channel=channel,
            workspace=workspace,
            final=True,
            top=top,
            data={"person": person, "team": team},
            teams_channel=teams_channel,
            only_workspace=only_workspace,
        )
    return snapshot


def _cut(frozen: dict[str, Any], top: int) -> int:
    """How many frozen rows make the first `top` ranks (ties at the edge stay in)."""
    rows = frozen["person"]["rows"]
    return sum(1 for r in rows if r["rank"] <= top)

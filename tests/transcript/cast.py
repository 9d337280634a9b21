"""The people of the conversation tests, and a message as the words a person sees of it."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from storage.models import Outbox
from tests.harness import eventually


@dataclass(frozen=True)
class Someone:
    """One colleague, known to the fake Slack workspace and the fake Teams tenant alike."""

    handle: str  # how tests name them, and their Slack handle
    name: str  # display name on both platforms
    slack_id: str
    teams_id: str  # the Bot Framework "29:" id
    aad_id: str
    email: str
    tz: str = "Europe/London"


def _someone(number: int, handle: str) -> Someone:
    return Someone(
        handle=handle,
        name=handle.title(),
        slack_id=f"U{number:04d}",
        teams_id=f"29:1{handle}",
        aad_id=f"c0ffee00-0000-4000-8000-{number:012d}",
        email=f"{handle}@contoso.example",
    )


CAST: dict[str, Someone] = {
    s.handle: s
    for s in (
        _someone(n, h)
        for n, h in enumerate(("alice", "bob", "carol", "dave", "erin", "frank", "rae"), 1)
    )
}
REVIEWER = CAST["rae"]  # the compliance reviewer of every conversation test
MENTION = re.compile(r"@([a-z][a-z0-9_]*)")


def someone(handle: str) -> Someone:
    try:
        return CAST[handle]
    except KeyError:
        raise KeyError(f"{handle!r} is not one of the cast: {', '.join(CAST)}") from None


def by_slack_id(user_id: str) -> Someone | None:
    return next((s for s in CAST.values() if s.slack_id == user_id), None)


def by_teams_id(ident: str) -> Someone | None:
    return next((s for s in CAST.values() if ident in (s.teams_id, s.aad_id)), None)


class Said(str):
    """The words of one message as a person sees them; `raw` is the payload it came in,
    `where` its channel or conversation, `ref` its id there (ts, activity id)."""

    raw: dict[str, Any]
    where: str
    ref: str | None
    at: float
    author: str | None  # the handle of the person who wrote it; None for the bot

    def __new__(
        cls,
        text: str,
        *,
        raw: dict[str, Any],
        where: str,
        ref: str | None = None,
        at: float | None = None,
        author: str | None = None,
    ) -> Said:
        said = super().__new__(cls, text)
        said.raw, said.where, said.ref, said.author = raw, where, ref, author
        said.at = time.monotonic() if at is None else at
        return said


def transcript(messages: list[Said]) -> str:
    """Messages as a readable block, for assertion messages."""
    return "\n".join(f"  [{m.where}] " + m.replace("\n", "\n    ") for m in messages) or "  -"


def settle(engine: Engine, timeout: float = 10.0) -> None:
    """Wait until the bot has delivered everything it owes: replies, posts and DMs leave
    through the outbox, after the request that caused them was answered."""

    def pending() -> list[Outbox]:
        with Session(engine) as s:
            query = select(Outbox).where(Outbox.status == "pending").order_by(col(Outbox.id))
            return list(s.exec(query))

    try:
        eventually(lambda: not pending(), timeout=timeout)
    except AssertionError:
        stuck = [f"{o.template} to {o.channel}: {o.last_error}" for o in pending()]
        raise AssertionError(f"still undelivered: {stuck}") from None

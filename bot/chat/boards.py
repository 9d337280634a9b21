"""The sprint board a chat command asks for, whichever platform asked, and where someone
stands on it."""

from __future__ import annotations

from typing import Any

from bot.chat.texts import Span, Strong, Words
from bot.runtime import Runtime
from handlers import leaderboard

HELP = (
    "Try `{cmd} leaderboard`, `{cmd} leaderboard teams`, `{cmd} leaderboard givers`, "
    "`{cmd} leaderboard team Brand`, `{cmd} leaderboard region EMEA` or "
    "`{cmd} leaderboard #site-activation`."
)


async def query(
    runtime: Runtime, words: list[str], *, command: str = "/kudos", workspace: str | None = None
) -> tuple[str, dict[str, Any]] | str:
    """(title, board) for `leaderboard [teams|givers|team X|region X|area X|#value]`, or
    a sentence saying why there is none; with `workspace`, that Slack workspace's people
    only."""
    by: leaderboard.By = "person"
    filters = leaderboard.Filters()
    head = words[0].lower() if words else ""
    rest = " ".join(words[1:]).strip()
    if head in ("teams", "team") and not rest:
        by = "team"
    elif head == "givers":
        by = "givers"
    elif head in ("team", "region", "area") and rest:
        field = "therapeutic_area" if head == "area" else head
        filters = leaderboard.Filters(**{field: rest})
    elif head.startswith("#") and not rest:
        filters = leaderboard.Filters(value=head)
    elif head:
        return HELP.format(cmd=command)
    sprint = runtime.policy.sprints.sprint_of(runtime.clock.now())
    if sprint is None:
        return "No recognition sprint is running now."
    board = await runtime.run(
        lambda s: leaderboard.board(
            s,
            sprint,
            by=by,
            filters=filters,
            exclude=runtime.boards.exclude,
            top=runtime.boards.top,
            workspace=workspace,
        )
    )
    kind = {"person": "Leaderboard", "team": "Teams", "givers": "Most appreciative"}[by]
    described = filters.describe()
    title = f"{kind}, sprint {sprint.id}" + (f" ({described})" if described else "")
    return title, board.as_json()


def board_place(
    sprint: str | None, rank: int | None, points: int, *, recounting: bool = False
) -> tuple[Span, ...]:
    """Where someone stands on the sprint board, for their home on either platform."""
    if sprint is None:
        return (Words("No recognition sprint is running."),)
    head = (Strong(f"Sprint {sprint}"),)
    if recounting:
        return (*head, Words(": the board is being recounted."))
    if rank is None:
        return (*head, Words(". No points for you in this sprint yet."))
    return (
        *head,
        Words(". You are number "),
        Strong(str(rank)),
        Words(" with "),
        Strong(str(points)),
        Words(" points."),
    )

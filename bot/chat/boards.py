"""The sprint board a chat command asks for, whichever platform asked, and where someone
stands on it."""

from __future__ import annotations

from typing import Any

from bot.chat.texts import Span, Strong, Words, fill
from bot.runtime import Runtime
from handlers import leaderboard
from handlers.i18n import _, joined, n_

# What may follow `leaderboard`, as people type it (never translated).
EXAMPLES = ("", " teams", " givers", " team Brand", " region EMEA", " #site-activation")


def help_words(command: str) -> str:
    """What to type instead of words `leaderboard` does not know."""
    shown = [f"`{command} leaderboard{rest}`" for rest in EXAMPLES]
    return _("Try {first} or {last}.", first=joined(shown[:-1]), last=shown[-1])


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
        return help_words(command)
    sprint = runtime.policy.sprints.sprint_of(runtime.clock.now())
    if sprint is None:
        return _("No recognition sprint is running now.")
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
    title = _title(by, sprint.id)
    described = filters.describe()
    if described:
        title = _("{board} ({filters})", board=title, filters=described)
    return title, board.as_json()


def _title(by: leaderboard.By, sprint: str) -> str:
    if by == "team":
        return _("Teams, sprint {sprint}", sprint=sprint)
    if by == "givers":
        return _("Most appreciative, sprint {sprint}", sprint=sprint)
    return _("Leaderboard, sprint {sprint}", sprint=sprint)


def board_place(
    sprint: str | None, rank: int | None, points: int, *, recounting: bool = False
) -> tuple[Span, ...]:
    """Where someone stands on the sprint board, for their home on either platform."""
    if sprint is None:
        return (Words(_("No recognition sprint is running.")),)
    head = Strong(_("Sprint {sprint}", sprint=sprint))
    if recounting:
        return tuple(fill(_("{sprint}: the board is being recounted."), sprint=head))
    if rank is None:
        return tuple(fill(_("{sprint}. No points for you in this sprint yet."), sprint=head))
    # i18n: the English keeps one plural wording for every count; use your language's forms
    said = n_(
        "{sprint}. You are number {rank} with {points} points.",
        "{sprint}. You are number {rank} with {points} points.",
        points,
        sprint="{sprint}",
        rank="{rank}",
        points="{points}",
    )
    return tuple(fill(said, sprint=head, rank=Strong(str(rank)), points=Strong(str(points))))

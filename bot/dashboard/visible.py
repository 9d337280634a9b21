"""How much of a sprint board a viewer sees (`dashboard.members_see_top` in plaudit.yaml).

Unset (0), everyone sees every place. Set to N, a viewer whose only role is member sees
the first N places of each board (people tied at the edge stay in, as on the boards posted
in chat) and their own row with its rank: their own name on the people board, their team
on the team board. Admins, reviewers, managers and the safety team see every place. The
leaderboard page and its CSV export follow the same rule.
"""

from __future__ import annotations

from dataclasses import replace

from bot.dashboard.auth import MEMBER, Viewer
from bot.dashboard.config import DashboardConfig
from handlers.leaderboard import Board, Row

ONLY_MEMBER = frozenset({MEMBER})


def places(viewer: Viewer, config: DashboardConfig) -> int:
    """The places of each board this viewer sees: 0 for all of them."""
    return config.members_see_top if viewer.roles == ONLY_MEMBER else 0


def top_and_own(board: Board, top: int, viewer: Viewer) -> Board:
    """`board` with only its first `top` places and the viewer's own row."""
    return replace(
        board, rows=tuple(r for r in board.rows if r.rank <= top or own(board, r, viewer))
    )


def own(board: Board, row: Row, viewer: Viewer) -> bool:
    """Whether `row` is the viewer's: their email on a board of people, their team's name
    on the team board."""
    if board.by == "team":
        return viewer.account.team is not None and row.name == viewer.account.team
    return row.email is not None and row.email.lower() == viewer.email

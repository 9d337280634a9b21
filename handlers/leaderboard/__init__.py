"""Sprint leaderboards: the boards, their frozen snapshots and their posts."""

from handlers.leaderboard.boards import RECOUNTING, Board, By, Filters, Row, board, lines
from handlers.leaderboard.recount import recounting
from handlers.leaderboard.snapshots import close_sprint, freeze, queue_post, verify

__all__ = [
    "RECOUNTING",
    "Board",
    "By",
    "Filters",
    "Row",
    "board",
    "close_sprint",
    "freeze",
    "lines",
    "queue_post",
    "recounting",
    "verify",
]

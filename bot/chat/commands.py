"""Which command a chat message is, the same way on both platforms: help, me, leaderboard,
the kudos form, or a kudos. In Slack the slash command is `/kudos` and its text follows; in
Teams the bot is mentioned and the message starts with the command word."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Command(StrEnum):
    HELP = "help"
    UNKNOWN = "unknown"  # answered with the help, after "I didn't catch that"
    ME = "me"
    LEADERBOARD = "leaderboard"
    FORM = "form"  # the kudos form, nothing typed yet
    KUDOS = "kudos"


HELP_WORDS = ("help", "?")
SUBCOMMANDS = (*HELP_WORDS, "me", "leaderboard")
PRIVATE = "private"


@dataclass(frozen=True)
class Routed:
    command: Command
    args: tuple[str, ...] = ()  # the words after `leaderboard`


def route(text: str, *, keyword: bool) -> Routed:
    """The command in `text` (plain words). With `keyword` (Teams), a kudos must start with
    "kudos", and "kudos me" means "me", as Slack's "/kudos me" does."""
    words = text.split()
    lowered = [w.lower() for w in words]
    if keyword and lowered[:1] == ["kudos"]:
        if len(lowered) == 1:
            return Routed(Command.FORM)
        if lowered[1] not in SUBCOMMANDS:
            return Routed(Command.KUDOS)
        words, lowered = words[1:], lowered[1:]
    head = lowered[0] if lowered else ""
    if head in HELP_WORDS and (keyword or len(words) == 1):
        return Routed(Command.HELP)
    if head == "leaderboard":
        return Routed(Command.LEADERBOARD, tuple(words[1:]))
    if head == "me" and len(words) == 1:
        return Routed(Command.ME)
    if keyword:
        return Routed(Command.HELP if not head else Command.UNKNOWN)
    if lowered == [PRIVATE]:  # `/kudos private`: the form, with "private" ticked
        return Routed(Command.FORM, (PRIVATE,))
    return Routed(Command.FORM if not words else Command.KUDOS)


def private(text: str) -> tuple[bool, str]:
    """Whether a kudos' text asks to be private (`private @name …`), and the text without
    that word: a private kudos reaches its recipients only, never a channel."""
    head, _, rest = text.strip().partition(" ")
    if head.lower() == PRIVATE:
        return True, rest.strip()
    return False, text

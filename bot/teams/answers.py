"""Plaudit's answers in Teams that are not outbox messages of their own: the giver's answer
card (recorded, refused, stopped, with what to do next) and the help card."""

from __future__ import annotations

from typing import Any

from bot.chat import texts
from bot.teams.render import (
    ASK_REVIEW,
    EDIT,
    RETRACT,
    card,
    execute,
    inert,
    markdown,
    text,
    text_blocks,
)
from handlers.i18n import _, joined
from handlers.kudos import KudosResult, Recorded, Stopped
from handlers.policy import KudosPolicy


def answer_card(result: KudosResult) -> dict[str, Any]:
    """The giver's answer, as a card: recorded, refused, or stopped with what to do next."""
    body = [text(markdown(texts.kudos_answer(result)))]
    if texts.can_edit(result):
        assert isinstance(result, Stopped)
        ref = {"recognition_id": result.recognition_id}
        return card(
            body,
            [
                execute(_("Edit and resend"), EDIT, ref, style="positive"),
                execute(_("Ask for review"), ASK_REVIEW, ref),
            ],
        )
    if isinstance(result, Recorded):  # its giver may take it back, for a while
        return card(
            body, [execute(_("Take back"), RETRACT, {"recognition_id": result.recognition_id})]
        )
    return card(body)


def help_card(policy: KudosPolicy, *, head: str = "") -> dict[str, Any]:
    """What Plaudit does in Teams and how to ask (`head`, plain words, goes first)."""
    # Reaction types are Teams' own names (like, heart), shown as such.
    reactions = joined(policy.teams_reactions) or _("none")
    commands = texts.Commands(
        kudos="@Plaudit kudos",
        me="@Plaudit me",
        leaderboard="@Plaudit leaderboard",
        reactions=(
            texts.Words(
                _(
                    "React ({reactions}) to a kudos card to second it: one more point to each "
                    "person it thanks",
                    reactions=reactions,
                )
            ),
        ),
    )
    neutral = texts.help_text(
        commands, policy.values, policy.daily_allowance, policy.max_recipients
    )
    body = text_blocks(neutral)
    return card([text(inert(head)), *body] if head else body)

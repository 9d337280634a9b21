"""Answers in Teams go through the outbox like every other message: queued in the
transaction of the change they report, delivered by the Teams sender."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot.runtime import Runtime
from bot.teams import answers
from handlers import i18n, kudos
from handlers.events import Person
from handlers.i18n import N_, _
from handlers.messages import Template, message
from storage import queries
from storage.teams import Conversation

SORRY = N_("Something went wrong on our side and nothing was recorded. Please try again.")
NOT_IN_SHARED = N_(
    "Plaudit doesn't post kudos in a channel shared with another organisation, so this one "
    "is not shown there; its recipients hear of it by direct message."
)


def sorry() -> str:
    """The apology for a turn the Bot Connector failed (nothing was recorded)."""
    return "⚠️ " + _(SORRY)


def not_in_shared() -> str:
    """Why a kudos given in a shared channel is not posted there."""
    return "\u2139\ufe0f " + _(NOT_IN_SHARED)


def enqueue(
    session: Session,
    channel: str,
    key: str,
    *,
    text: str | None = None,
    card: dict[str, Any] | None = None,
    kind: str = "post",
) -> None:
    """A card (`answer.card`) or a line of text (`notice`) to a Teams conversation, made in
    the language spoken now (the person answered), which the row records."""
    template = Template.ANSWER_CARD if card is not None else Template.NOTICE
    data: dict[str, Any] = {"card": card} if card is not None else {"text": text or ""}
    data["locale"] = i18n.current()
    queries.enqueue(
        session=session,
        message=message(
            template, data, key=key[:255], platform="teams", channel=channel, kind=kind
        ),
    )


async def reply(
    runtime: Runtime,
    conv: Conversation,
    key: str,
    *,
    text: str | None = None,
    card: dict[str, Any] | None = None,
    private_to: Person | None = None,
) -> None:
    """Queue an answer in this conversation (or the person's 1:1 chat when it is about
    them and the conversation is shared)."""
    channel, kind = conv.channel, "post"
    if private_to is not None and conv.kind != "personal":
        channel, kind = private_to.user_id, "dm"
    full_key = f"teams:{conv.row}:{key}"
    await runtime.run(lambda s: enqueue(s, channel, full_key, text=text, card=card, kind=kind))
    runtime.poke()


def answer(
    session: Session,
    conv: Conversation,
    giver: Person,
    result: kudos.KudosResult,
    reply_key: str,
    *,
    shared: bool = False,
) -> None:
    """Tell the giver how it went. Findings never go to a shared conversation: there the
    thread hears only that the details went to the giver privately. In a channel shared
    with another organisation (`shared`) no public card is posted, so a recorded kudos is
    confirmed to the giver privately, saying why."""
    if isinstance(result, kudos.Duplicate):
        return
    card = answers.answer_card(result)
    key = f"teams:{conv.row}:{reply_key}"
    if shared and isinstance(result, kudos.Recorded):
        enqueue(session, giver.user_id, f"{key}:private", card=card, kind="dm")
        enqueue(session, giver.user_id, f"{key}:shared", text=not_in_shared(), kind="dm")
        return
    if conv.kind == "personal" or isinstance(result, kudos.Refused):
        enqueue(session, conv.channel, f"{key}:answer", card=card)
        return
    if isinstance(result, kudos.Stopped):
        enqueue(
            session,
            conv.channel,
            f"{key}:answer",
            text=_("I didn't publish that kudos; I've sent you the details in a private chat."),
        )
    if isinstance(result, kudos.Stopped) or result.warnings:
        enqueue(session, giver.user_id, f"{key}:private", card=card, kind="dm")

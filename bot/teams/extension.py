"""The message extension "Give kudos" (an action command): from a message's "…" menu, the
kudos form opens as a dialog with the message's author picked and a link to the message;
from the compose box or the command box, empty. What is sent goes through the same use
case and compliance gate as the form on a card (`Cards.give_kudos`)."""

from __future__ import annotations

from typing import Any

from bot.chat import texts
from bot.chat.ratelimit import too_fast
from bot.teams import activity as parsed
from bot.teams import forms, people, replies
from bot.teams.cards import Cards
from bot.teams.package import GIVE_COMMAND
from bot.teams.render import CARD, message_link
from bot.teams.turn import Turn
from handlers import kudos
from handlers.i18n import N_, _

FETCH = "composeExtension/fetchTask"
SUBMIT = "composeExtension/submitAction"
NAMES = (FETCH, SUBMIT)
NOT_A_COLLEAGUE = N_("That message was posted by an app, not a colleague: kudos are for people.")
YOURSELF = N_("That is your own message: kudos are for colleagues.")
UNKNOWN = N_("Plaudit does not know that command.")

Answer = tuple[int, Any]


async def answer(cards: Cards, turn: Turn) -> Answer:
    """The invoke response to a fetchTask (the dialog) or a submitAction (the kudos)."""
    value = turn.value if isinstance(turn.value, dict) else {}
    if value.get("commandId") != GIVE_COMMAND:
        return 200, _message(_(UNKNOWN))
    runtime = cards.runtime
    wait = runtime.limiter.wait("teams", turn.conv.tenant_id or "", turn.sender_id)
    if wait:
        return 200, _message(too_fast(wait))
    if turn.data.get("name") == FETCH:
        return 200, _fetched(turn, value, runtime.policy)
    data = parsed.as_dict(value.get("data"))
    giver = await people.sender(runtime, turn)
    result, card = await cards.give_kudos(turn, giver, dict(data), dialog=True)
    if result is None or isinstance(result, kudos.Refused):
        return 200, _dialog(card)  # the form again, saying why, for the giver to fix
    if isinstance(result, kudos.Stopped):
        # What to do next (edit and resend, ask for review) needs the card's buttons,
        # which a dialog's closing message cannot carry: the giver's 1:1 chat gets them.
        key = f"{turn.id}:extension"
        await replies.reply(runtime, turn.conv, key, card=card, private_to=giver)
    return 200, _message(texts.kudos_answer(result).plain())


def _fetched(turn: Turn, value: dict[str, Any], policy: Any) -> dict[str, Any]:
    """The dialog for a fetchTask: from a message, its author picked and a link to it."""
    payload = value.get("messagePayload")
    if not isinstance(payload, dict) or value.get("commandContext") != "message":
        return _dialog(forms.kudos_form(policy, dialog=True))
    sender = parsed.as_dict(payload.get("from"))
    user = parsed.as_dict(sender.get("user"))
    if not user.get("id") or sender.get("application"):
        return _message(_(NOT_A_COLLEAGUE))
    author = str(user["id"])
    pressed = str(parsed.as_dict(turn.data.get("from")).get("aadObjectId") or "")
    if author == pressed:
        return _message(_(YOURSELF))
    link = message_link(payload.get("linkToMessage"))
    return _dialog(forms.kudos_form(policy, recipients=(author,), link=link, dialog=True))


def _dialog(card: dict[str, Any]) -> dict[str, Any]:
    return {
        "task": {
            "type": "continue",
            "value": {
                "title": _("Give kudos"),
                "height": "large",
                "width": "medium",
                "card": {"contentType": CARD, "content": card},
            },
        }
    }


def _message(words: str) -> dict[str, Any]:
    return {"task": {"type": "message", "value": words}}

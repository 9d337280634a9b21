"""The kudos form (a Slack modal): people, value, message and "private"; filled in from a
blocked kudos to edit, or from a message's shortcut; and what a submitted form keeps."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from bot.chat.texts import Link, fill
from bot.slack.markup import cut, spans, units
from handlers.i18n import _
from handlers.policy import KudosPolicy

log = logging.getLogger("plaudit.slack")
MODAL_CALLBACK = "kudos_modal"
MAX_OPTIONS, OPTION_TEXT, OPTION_VALUE = 100, 75, 150
TITLE = 24  # a modal's title, submit and close buttons


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def plain(text: str, limit: int = TITLE) -> dict[str, Any]:
    """A plain text object within Slack's limit (a translation may be longer than English)."""
    return {"type": "plain_text", "text": cut(text, limit)}


def for_message(link: str) -> str:
    """'For this message', linked to it (mrkdwn)."""
    return spans(fill(_("For {message}"), message=Link(link, _("this message"))))


def modal(
    policy: KudosPolicy,
    channel_id: str | None,
    *,
    users: tuple[str, ...] = (),
    text: str = "",
    value: str | None = None,
    private: bool = False,
    link: str | None = None,
) -> dict[str, Any]:
    """The kudos form; filled in from a blocked kudos when the giver edits and resends, or
    from a message's shortcut (its author, and `link` to it)."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": "recipients",
            "label": plain(_("Who deserves kudos?"), 2000),
            "element": {
                "type": "multi_users_select",
                "action_id": "users",
                "max_selected_items": policy.max_recipients,
                **({"initial_users": list(users)} if users else {}),
            },
        }
    ]
    if policy.values:
        blocks.append(_value_input(policy, value))
    blocks.append(
        {
            "type": "input",
            "block_id": "message",
            "label": plain(_("What did they do?"), 2000),
            "element": {
                "type": "plain_text_input",
                "action_id": "text",
                "multiline": True,
                "min_length": max(policy.min_message_length, 1),
                "max_length": 2000,
                **({"initial_value": cut(text, 2000, mark="")} if text else {}),
            },
        }
    )
    blocks.append(_private_input(private))
    if link:
        blocks.insert(0, _context(for_message(link)))
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        # Where it was asked, and the message it is for: what the submission needs back.
        "private_metadata": json.dumps({"channel": channel_id, "link": link})
        if link
        else channel_id or "",
        # i18n: at most 24 characters (Slack modal title)
        "title": plain(_("Give kudos")),
        # i18n: at most 24 characters (Slack modal button)
        "submit": plain(_("Send")),
        # i18n: at most 24 characters (Slack modal button)
        "close": plain(_("Cancel")),
        "blocks": blocks,
    }


def modal_context(view: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(the channel the form was asked in, the message it is for) from a submitted form."""
    kept = str(view.get("private_metadata") or "")
    if not kept.startswith("{"):
        return kept or None, None
    try:
        found = json.loads(kept)
    except ValueError:
        return None, None
    channel, link = found.get("channel"), found.get("link")
    ok = isinstance(link, str) and link.startswith("https://")
    return (str(channel) if channel else None), (link if ok else None)


def _private_input(ticked: bool) -> dict[str, Any]:
    """The "private" option: the kudos reaches its recipients (and managers) only."""
    option = {
        # i18n: at most 75 characters (Slack option text)
        "text": plain(_("Private: only the recipients see it"), OPTION_TEXT),
        # i18n: at most 75 characters (Slack option description)
        "description": plain(_("Counted, but not posted in any channel"), OPTION_TEXT),
        "value": "private",
    }
    return {
        "type": "input",
        "block_id": "private",
        "optional": True,
        "label": plain(_("Who sees it"), 2000),
        "element": {
            "type": "checkboxes",
            "action_id": "private",
            "options": [option],
            **({"initial_options": [option]} if ticked else {}),
        },
    }


def _value_input(policy: KudosPolicy, value: str | None) -> dict[str, Any]:
    """The company values as a menu (Slack shows at most 100 options, and refuses an option
    whose value is over 150 characters: such a value is left out, and said so in the log)."""
    fit = [v for v in policy.values if units(v) <= OPTION_VALUE][:MAX_OPTIONS]
    if len(fit) < len(policy.values):
        log.warning("the kudos form offers %d of %d values", len(fit), len(policy.values))
    options = [
        {"text": {"type": "plain_text", "text": cut(v, OPTION_TEXT)}, "value": v} for v in fit
    ]
    chosen = next((o for o in options if o["value"] == value), None)
    return {
        "type": "input",
        "block_id": "value",
        "optional": not policy.require_value,
        "label": plain(_("Which value did they live?"), 2000),
        "element": {
            "type": "static_select",
            "action_id": "value",
            "options": options,
            **({"initial_option": chosen} if chosen else {}),
        },
    }

"""The kudos form, and what comes back from Teams' cards: the people a client with no
people picker typed, and the options a survey's choice input sent.

The people picker (`choices.data`, Teams desktop and web only) is backed by a text input for
emails and names, which every client shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.chat import texts
from bot.teams.render import GIVE, card, execute, inert, spans, text
from handlers.i18n import _
from handlers.policy import KudosPolicy

PEOPLE_PICKER = {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
# Typed people: separated by commas, semicolons or new lines, or each starting with an @.
_TYPED = re.compile(r"[,;\n]+|\s+(?=@)")


def kudos_form(
    policy: KudosPolicy,
    *,
    recipients: tuple[str, ...] = (),
    typed: str = "",
    message: str = "",
    value: str | None = None,
    error: str | None = None,
    private: bool = False,
    link: str | None = None,
    dialog: bool = False,
) -> dict[str, Any]:
    """The kudos form: a people picker and, for clients without one, their emails or names
    typed; the company values; the message; whether only the recipients see it. `link`:
    the message it is for; `dialog`: in a message extension's dialog, which sends its
    inputs with Action.Submit (a dialog has no Universal Actions)."""
    body: list[dict[str, Any]] = [text(inert(_("Give kudos")), weight="Bolder", size="Medium")]
    if link:
        # i18n: the label of a link to the message a kudos is for
        label = _("this message")
        # i18n: {message} is a link to the message the kudos is for, labelled "this message"
        shown = texts.fill(_("For {message}"), message=texts.Link(link, label))
        body.append(text(spans(shown), isSubtle=True))
    if error:
        body.append(text(f"💡 {inert(error)}", color="Attention"))
    body += _inputs(policy, recipients, typed, message, value, private)
    data = {"link": link} if link else {}
    if dialog:
        submit = {"type": "Action.Submit", "title": _("Send kudos"), "data": {"verb": GIVE, **data}}
        return card(body, [submit])
    return card(body, [execute(_("Send kudos"), GIVE, data, style="positive")])


def _inputs(
    policy: KudosPolicy,
    recipients: tuple[str, ...],
    typed: str,
    message: str,
    value: str | None,
    private: bool,
) -> list[dict[str, Any]]:
    """The form's inputs: who (picked, or typed), the value, the words, private or not."""
    return [
        {
            "type": "Input.ChoiceSet",
            "id": "recipients",
            # i18n: the label of the kudos form's people picker
            "label": _("Who"),
            "isMultiSelect": True,
            "choices": [],
            "choices.data": dict(PEOPLE_PICKER),
            "value": ",".join(recipients),
        },
        {
            "type": "Input.Text",
            "id": "people",
            "label": _("Who, by email or name (where the picker above does not show)"),
            # i18n: example colleagues, by email and by name, as a hint in an empty input
            "placeholder": _("alex@example.com, @Megan Bowen"),
            "maxLength": 1000,
            "value": typed,
        },
        {
            "type": "Input.ChoiceSet",
            "id": "value",
            "label": _("Company value"),
            "isRequired": policy.require_value,
            "choices": [{"title": v, "value": v} for v in policy.values],
            **({"value": value} if value else {}),
        },
        {
            "type": "Input.Text",
            "id": "message",
            "label": _("What did they do?"),
            "isMultiline": True,
            "isRequired": True,
            "maxLength": 1000,
            "value": message,
        },
        {
            "type": "Input.Toggle",
            "id": "private",
            "title": _("Private: only the recipients see it (counted, not posted in any channel)"),
            "valueOn": "true",
            "valueOff": "false",
            "value": "true" if private else "false",
        },
    ]


def typed_people(raw: str) -> list[str]:
    """The people typed into the form's text input: emails or names, an @ in front or not."""
    found = (part.strip().lstrip("@").strip() for part in _TYPED.split(raw or ""))
    return list(dict.fromkeys(part for part in found if part))


def chosen(raw: str, options: Sequence[str], *, by_index: bool) -> tuple[str, ...]:
    """The options a choice input sent, in order: indices from the cards that send them,
    else the options' own words (cards sent before), joined with commas as Teams joins them,
    so an option holding a comma is still found whole. What matches no option is kept as
    sent, for the survey to refuse."""
    parts = raw.split(",")
    if by_index and all(p.strip().isdigit() and int(p) < len(options) for p in parts if p.strip()):
        return tuple(dict.fromkeys(options[int(p)] for p in parts if p.strip()))
    found: list[str] = []
    start = 0
    while start < len(parts):
        end = next(
            (e for e in range(len(parts), start, -1) if ",".join(parts[start:e]) in options),
            None,
        )
        if end is None:
            if parts[start].strip():
                found.append(parts[start].strip())
            start += 1
        else:
            found.append(",".join(parts[start:end]))
            start = end
    return tuple(dict.fromkeys(found))

"""What people see of the bot's messages: Slack Block Kit and mrkdwn, Teams Adaptive Cards
and markdown, reduced to the words on screen (buttons as `[label]`, menus as `<choice>`,
inputs as `label: value`)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tests.transcript.cast import by_slack_id, by_teams_id

CARD = "application/vnd.microsoft.card.adaptive"


# -- Slack -----------------------------------------------------------------------------------


def decoded(value: Any) -> Any:
    """An argument as the Web API received it: JSON in a form field, or a JSON value."""
    return json.loads(value) if isinstance(value, str) else value


def mrkdwn_text(mrkdwn: str) -> str:
    """Slack mrkdwn as it shows on screen: names for mentions, labels for links, no markup."""

    def token(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            found = by_slack_id(target[1:])
            return "@" + (found.name if found else label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        return label or target

    text = re.sub(r"^&gt; ?|^> ?", "", mrkdwn, flags=re.MULTILINE)
    text = re.sub(r"<([^<>]+)>", token, text)
    text = re.sub(r"```\n?|`", "", text)
    text = re.sub(r"(?<![\w*])\*(\S(?:[^*\n]*\S)?)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w~])~(\S(?:[^~\n]*\S)?)~(?![\w~])", r"\1", text)
    return html.unescape(text)


def plain(obj: Any) -> str:
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text") or "")
    return mrkdwn_text(text) if obj.get("type") == "mrkdwn" else text


def _element(element: Mapping[str, Any]) -> str:
    kind = element.get("type")
    if kind == "button":
        return f"[{plain(element.get('text'))}]"
    if kind in ("static_select", "multi_static_select"):
        chosen = element.get("initial_options") or [element.get("initial_option") or {}]
        shown = ", ".join(plain(o.get("text")) for o in chosen if o)
        return f"<{shown or plain(element.get('placeholder')) or 'Choose'}>"
    if kind in ("mrkdwn", "plain_text"):
        return plain(element)
    return ""


def block_text(blocks: Iterable[Mapping[str, Any]]) -> str:
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("header", "section"):
            parts = [plain(block.get("text"))]
            parts += [plain(f) for f in block.get("fields") or []]
            accessory = block.get("accessory")
            parts.append(_element(accessory) if isinstance(accessory, Mapping) else "")
            lines.append(" ".join(p for p in parts if p))
        elif kind in ("context", "actions"):
            lines.append(" ".join(_element(e) for e in block.get("elements") or []).strip())
        elif kind == "input":
            lines.append(_slack_input(block))
    return "\n".join(line for line in lines if line)


def _slack_input(block: Mapping[str, Any]) -> str:
    element = block.get("element") or {}
    kind = element.get("type")
    if kind == "multi_users_select":
        shown = ", ".join(mrkdwn_text(f"<@{u}>") for u in element.get("initial_users") or [])
    elif kind in ("static_select", "multi_static_select"):
        shown = _element(element).strip("<>")
    else:
        shown = str(element.get("initial_value") or "")
    return f"{plain(block.get('label'))}: {shown}"


def message_text(message: Mapping[str, Any]) -> str:
    blocks = decoded(message.get("blocks"))
    if blocks:
        return block_text(blocks)
    return mrkdwn_text(str(message.get("text") or ""))


def view_text(view: Mapping[str, Any]) -> str:
    """A form (modal): its title, each input with what it holds, and its submit button."""
    submit = f"[{plain(view.get('submit'))}]" if view.get("submit") else ""
    parts = (plain(view.get("title")), block_text(view.get("blocks") or []), submit)
    return "\n".join(p for p in parts if p)


# -- Teams -----------------------------------------------------------------------------------


def markdown_text(markdown: str) -> str:
    """Teams markdown as it shows: mentions as names, link labels, no emphasis marks."""
    text = re.sub(r"<at[^>]*>(.*?)</at>", r"\1", markdown, flags=re.DOTALL)
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text, flags=re.DOTALL)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    return re.sub(r"\n{2,}", "\n", text)


def _card_input(item: Mapping[str, Any]) -> str:
    label = str(item.get("label") or item.get("placeholder") or item.get("id"))
    value = str(item.get("value") or "")
    if item.get("type") == "Input.ChoiceSet":
        chosen = [v for v in value.split(",") if v]
        if item.get("choices.data"):  # a people picker: Teams shows their names
            shown = [p.name if (p := by_teams_id(v)) else v for v in chosen]
        else:
            titles = {str(c["value"]): str(c["title"]) for c in item.get("choices") or []}
            shown = [titles.get(v, v) for v in chosen]
        value = ", ".join(shown)
    return f"{label}: {value}"


def card_text(card: Mapping[str, Any]) -> str:
    lines: list[str] = []

    def walk(items: Iterable[Mapping[str, Any]]) -> None:
        for item in items:
            kind = str(item.get("type") or "")
            if kind == "TextBlock":
                lines.append(markdown_text(str(item.get("text") or "")))
            elif kind == "RichTextBlock":
                inlines = item.get("inlines") or []
                lines.append(
                    "".join(i.get("text", "") if isinstance(i, Mapping) else i for i in inlines)
                )
            elif kind == "FactSet":
                lines.extend(f"{f['title']}: {f['value']}" for f in item.get("facts") or [])
            elif kind == "Container":
                walk(item.get("items") or [])
            elif kind == "ColumnSet":
                for column in item.get("columns") or []:
                    walk(column.get("items") or [])
            elif kind == "ActionSet":
                lines.append(" ".join(f"[{a.get('title')}]" for a in item.get("actions") or []))
            elif kind.startswith("Input."):
                lines.append(_card_input(item))

    walk(card.get("body") or [])
    lines.append(" ".join(f"[{a.get('title')}]" for a in card.get("actions") or []))
    return "\n".join(line for line in lines if line)


def cards(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The Adaptive Cards of an activity (or `raw` itself when it is a card)."""
    if raw.get("type") == "AdaptiveCard":
        return [raw]
    return [a["content"] for a in raw.get("attachments") or [] if a.get("contentType") == CARD]


def activity_text(raw: Mapping[str, Any]) -> str:
    parts = [markdown_text(str(raw["text"]))] if raw.get("text") else []
    return "\n".join(parts + [card_text(c) for c in cards(raw)])

"""Slack mrkdwn: people's words escaped once, lengths counted as Slack may count them, and long
texts cut or split where no escape, mention, link, fence mark or character is broken."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.chat import texts
from handlers.i18n import _

# What Slack refuses beyond (`invalid_blocks`, `msg_too_long`): a section's text, a context
# element's, a message's `text`; a notification's text is kept short.
SECTION_LIMIT, CONTEXT_LIMIT, TEXT_LIMIT, SUMMARY_LIMIT = 3000, 2000, 40_000, 3000
FENCE = "```"
# Never cut inside an escape (`&amp;`), a mention or link (`<@U…>`, `<url|label>`) or a fence.
_WHOLE = r"&[#\w]+;|<[^<>\n]*>|```"
_ASTRAL = 0xFFFF  # beyond it a character is two UTF-16 code units (a surrogate pair)


def escape(text: str) -> str:
    """Make user text inert: no pings, no links, no markup injected through `<...>`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unit(char: str) -> int:
    """One character's length as Slack's limits may count it: in UTF-16 code units, so an
    emoji outside the Basic Multilingual Plane counts twice. Counting so is never less than
    counting characters, so a text within it is within Slack's limit either way."""
    return 2 if ord(char) > _ASTRAL else 1


def units(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > _ASTRAL)


def cut(text: str, limit: int, mark: str = "…") -> str:
    """Plain text (a label, a form's value) in at most `limit` units: whole characters only,
    ending with `mark` when something was cut."""
    if units(text) <= limit:
        return text
    room, used, end = limit - units(mark), 0, 0
    while end < len(text) and used + unit(text[end]) <= room:
        used, end = used + unit(text[end]), end + 1
    return text[:end] + mark


def split(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """mrkdwn in pieces of at most `limit` units, cut at a line break or a space, never inside
    an escape, a mention, a link, a fence mark or a character; a code block cut in two is
    closed and opened again, and a quote goes on quoted."""
    if units(text) <= limit:
        return [text]
    again = "> " if text.startswith("> ") else ""
    out: list[str] = []
    fenced = False
    for piece in texts.pieces(text, limit - 2 * len(FENCE), unit, whole=_WHOLE):
        head = FENCE if fenced else again if out else ""
        fenced ^= piece.count(FENCE) % 2 == 1
        out.append(head + piece + (FENCE if fenced else ""))
    return out


def shorten(text: str) -> str:
    """A notification's text (Slack shows it alone, in the notification) kept short."""
    if units(text) <= SUMMARY_LIMIT:
        return text
    return split(text, SUMMARY_LIMIT - 1)[0].rstrip() + "…"


def who(person: Mapping[str, Any]) -> str:
    """A person as a mention when Slack knows them, else by their name (escaped)."""
    slack_id = person.get("slack_id")
    return f"<@{slack_id}>" if slack_id else escape(str(person.get("name", _("someone"))))


def spans(items: Iterable[texts.Span]) -> str:
    """Neutral spans as mrkdwn: people's words escaped once, names as mentions."""
    out: list[str] = []
    for span in items:
        if isinstance(span, texts.Words):
            out.append(escape(span.text))
        elif isinstance(span, texts.Strong):
            out.append(f"*{escape(span.text)}*")
        elif isinstance(span, texts.Name):
            mention = who(span.person)
            out.append(mention + escape(span.also) if mention.startswith("<@") else mention)
        elif isinstance(span, texts.Link):
            out.append(f"<{span.url}|{escape(span.label)}>")
        elif isinstance(span, texts.Icon):
            out.append(f":{span.name}:")
        else:
            out.append(f"`{escape(span.text)}`")
    return "".join(out)


def mrkdwn(block: texts.Block) -> str:
    if isinstance(block, texts.Para):
        return "\n".join(spans(line) for line in block.lines)
    if isinstance(block, texts.Quote):
        return f"> {escape(block.text)}"
    if isinstance(block, texts.Pre):
        return f"```{escape(block.text)}```"
    return spans(block.spans)

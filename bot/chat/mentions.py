"""Read mention-token text (Slack's escaped command text, and Teams messages rewritten into
it): who is mentioned, which values, and the words as the person typed them."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>|<((?:https?|mailto):[^>|]+)(?:\|([^>]*))?>")
_VALUE = re.compile(r"(?<![\w#&/])#[a-z0-9][a-z0-9_-]*", re.IGNORECASE)
_LEADING = re.compile(
    r"^(?:\s*(?:<@[^>]+>|<#[^>]+>|<!subteam\^[^>]+>)[\s,]*(?:and\s+|&amp;\s+)?)+", re.IGNORECASE
)
_SPECIAL = {"here", "channel", "everyone"}
_ESCAPE = re.compile(r"&(amp|lt|gt);")
_ESCAPES = {"amp": "&", "lt": "<", "gt": ">"}


@dataclass(frozen=True)
class ParsedKudos:
    user_ids: tuple[str, ...]
    groups: tuple[str, ...]  # user groups and channels named as recipients
    message: str  # plain words, unescaped
    values: tuple[str, ...]


def parse(text: str, known_values: tuple[str, ...] = ()) -> ParsedKudos:
    """Split `/kudos` text into recipients, the message (plain text) and value tags."""
    known = {v.lower() for v in known_values}
    user_ids: list[str] = []
    groups: list[str] = []
    linked: set[str] = set()  # channels Slack linked that spell no value: words, not values
    leading = _LEADING.match(text)
    lead_end = leading.end() if leading else 0

    def plain(match: re.Match[str]) -> str:
        sigil, ident, label = match.group(1), match.group(2), match.group(3)
        shown = _typed(match)
        if sigil == "@" and ident not in user_ids:
            user_ids.append(ident)
        elif sigil == "#" and shown.lower() not in known:
            linked.add(shown.lower())
        elif sigil == "!" and ident.startswith("subteam^"):
            groups.append(label or "@" + ident.split("^", 1)[1])
        return shown

    # Channels named among the leading recipients are "not people" unless they spell a
    # value (Slack turns "#site-activation" into a channel link when such a channel exists).
    lead_values: list[str] = []
    for match in _TOKEN.finditer(text[:lead_end]):
        sigil, ident, label = match.group(1), match.group(2), match.group(3)
        if sigil == "#":
            name = f"#{label or ident}"
            (lead_values if name.lower() in known else groups).append(name)
        else:
            plain(match)
    message = " ".join([*lead_values, _TOKEN.sub(plain, text[lead_end:]).strip()]).strip()
    values: list[str] = []
    for found in _VALUE.findall(message):
        if found.lower() not in {v.lower() for v in values} | linked:
            values.append(found.lower() if found.lower() in known else found)
    return ParsedKudos(tuple(user_ids), tuple(groups), unescape(message), tuple(values))


def as_typed(text: str) -> str:
    """The whole text as the person typed it, mentions, channels and links by their names
    (for what reads the words rather than the recipients: command words, a length, the
    drug-safety screen of a refused text)."""
    return unescape(_TOKEN.sub(_typed, text))


def _typed(match: re.Match[str]) -> str:
    sigil, ident, label, url, url_label = match.groups()
    if url is not None:
        return str(url_label or url)
    if sigil in "@#":
        return f"{sigil}{label or ident}"
    if ident.startswith("subteam^"):
        return str(label or "@group")
    if ident in _SPECIAL:
        return f"<!{ident}>"  # kept literally; escaped when posted, so it pings no one
    return str(label or ident)


def unescape(text: str) -> str:
    """The words as typed: Slack escapes `&`, `<` and `>` in the text it sends (and Teams
    text is put in the same form), so each renderer can escape them exactly once. One pass,
    so a typed `&lt;` (sent as `&amp;lt;`) stays `&lt;`."""
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(1)], text)

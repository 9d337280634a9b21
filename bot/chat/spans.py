"""The pieces of what Plaudit says in chat: spans (words, names, emphasis, links, code), the
blocks they make and a `Text` of blocks; and `fill`, which turns a translated sentence into
spans."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.i18n import _

# Icons by their Slack short name; Teams shows the character.
ICONS = {
    "white_check_mark": "✅",
    "warning": "⚠️",
    "no_entry": "⛔",
    "information_source": "💡",
    "rotating_light": "🚨",
    "tada": "🎉",
    "trophy": "🏆",
    "clap": "👏",
    "raised_hands": "🙌",
    "star": "⭐",
    "bar_chart": "📊",
    "mailbox_with_mail": "📬",
    "hourglass_flowing_sand": "⏳",
    "mag": "🔍",
    "lock": "🔒",
    "wave": "👋",
}


@dataclass(frozen=True)
class Words:
    text: str


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class Name:
    """A person, as an outbox payload names them (`handlers.messages.PersonRef`)."""

    person: Mapping[str, Any]
    also: str = ""  # shown after a mention, which names the person but shows nothing else

    @property
    def name(self) -> str:
        return str(self.person.get("name") or _("someone"))


@dataclass(frozen=True)
class Link:
    url: str
    label: str


@dataclass(frozen=True)
class Icon:
    name: str  # a key of ICONS


@dataclass(frozen=True)
class Code:
    text: str


Span = Words | Strong | Name | Link | Icon | Code


@dataclass(frozen=True)
class Para:
    """Lines of spans, shown together."""

    lines: tuple[tuple[Span, ...], ...]


@dataclass(frozen=True)
class Quote:
    text: str  # someone's words, quoted as written


@dataclass(frozen=True)
class Pre:
    text: str  # shown exactly, monospaced (a report for the safety team)


@dataclass(frozen=True)
class Small:
    spans: tuple[Span, ...]


Block = Para | Quote | Pre | Small


@dataclass(frozen=True)
class Text:
    blocks: tuple[Block, ...]
    summary: tuple[Span, ...] = field(default=())  # a notification's one line, when not the first

    def plain(self) -> str:
        """The words alone (logs, tests, the command line)."""
        out: list[str] = []
        for block in self.blocks:
            if isinstance(block, Para):
                out += [plain_spans(line) for line in block.lines]
            elif isinstance(block, Small):
                out.append(plain_spans(block.spans))
            else:
                out.append(block.text)
        return "\n".join(out)


def plain_spans(spans: Iterable[Span]) -> str:
    parts: list[str] = []
    for span in spans:
        if isinstance(span, Name):
            parts.append(span.name)
        elif isinstance(span, Link):
            parts.append(span.label)
        elif isinstance(span, Icon):
            parts.append(ICONS.get(span.name, ""))
        else:
            parts.append(span.text)
    return "".join(parts)


def pieces(text: str, limit: int, size: Callable[[str], int] = len, whole: str = "") -> list[str]:
    """`text` in pieces of at most `limit` (the sum of `size` over their characters), each cut
    after a line break, else after a space, where it has one, and never inside a match of the
    pattern `whole`; joined, the pieces are `text` again (nothing is ever left out)."""
    keep = [m.span() for m in re.finditer(whole, text)] if whole else []
    out: list[str] = []
    while text:
        end, used = 0, 0
        while end < len(text) and used + size(text[end]) <= limit:
            used, end = used + size(text[end]), end + 1
        if end < len(text):
            cut = text.rfind("\n", 0, end)
            cut = cut if cut > end // 2 else max(cut, text.rfind(" ", 0, end))
            end = cut + 1 if cut > 0 else end
            end = next((a for a, b in keep if 0 < a < end < b), end)
        end = max(end, 1)
        out.append(text[:end])
        text = text[end:]
        keep = [(a - end, b - end) for a, b in keep if b > end]
    return out


_SLOT = re.compile(r"\{(\w+)\}")


def fill(template: str, **parts: str | int | Span | Sequence[Span]) -> list[Span]:
    """A sentence (translated: `handlers.i18n._`) as spans, each `{name}` in it replaced by
    `parts[name]`: words, a span or spans (a name, a link, code). Translations may move the
    slots, so sentences are never built by joining translated fragments. (In a sentence from
    `n_`, which fills its slots, keep a span's slot with `name="{name}"`.)"""
    out: list[Span] = []
    at = 0
    for slot in _SLOT.finditer(template):
        if slot.start() > at:
            out.append(Words(template[at : slot.start()]))
        part = parts[slot.group(1)]
        if isinstance(part, (str, int)):
            out.append(Words(str(part)))
        elif isinstance(part, Words | Strong | Name | Link | Icon | Code):
            out.append(part)
        else:
            out.extend(part)
        at = slot.end()
    if at < len(template):
        out.append(Words(template[at:]))
    return out


def para(*lines: Sequence[Span]) -> Para:
    return Para(tuple(tuple(line) for line in lines))


def words(*lines: str) -> Text:
    """Plain sentences, one paragraph."""
    return Text((para(*[(Words(line),) for line in lines]),))


def listed(items: Sequence[Sequence[Span]]) -> list[Span]:
    """'A', 'A and B', 'A, B and C' in the current language, each item spans (a name, code)."""
    if len(items) <= 1:
        return [span for item in items for span in item]
    head: list[Span] = []
    for index, item in enumerate(items[:-1]):
        head += [Words(_(", ")), *item] if index else item
    return fill(_("{first} and {last}"), first=head, last=items[-1])

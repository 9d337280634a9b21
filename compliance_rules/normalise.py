"""Turn chat markup into plain words, remembering where each character came from."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "#39": "'", "nbsp": " "}
# Chat platforms escape "<" in what people write, so no part of a markup has one inside:
# that keeps a text of many unclosed "<at>"s or "<@U1|"s from being read in quadratic time.
_MARKUP = re.compile(
    r"<@(?P<uid>[A-Z0-9]+)(?:\|(?P<uname>[^<>]*))?>"
    r"|<#(?P<cid>[A-Z0-9]+)(?:\|(?P<cname>[^<>]*))?>"
    r"|<!(?P<special>[\w-]+)(?:\^[^|<>]*)?(?:\|(?P<slabel>[^<>]*))?>"
    r"|<(?P<url>(?:https?|mailto):[^|<>\s]+)(?:\|(?P<ulabel>[^<>]*))?>"
    r"|<at>(?P<at>[^<\n]*)</at>"
    r"|&(?P<entity>amp|lt|gt|quot|#39|nbsp);"
    r"|(?<![\w:]):(?P<emoji>[a-z0-9_+\-]{1,64}):(?![\w:])",
    re.IGNORECASE,
)


class Normalised(NamedTuple):
    text: str
    starts: Sequence[int]  # original start offset of each character of `text`
    ends: Sequence[int]  # original end offset of each character of `text`

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span behind text[start:end]."""
        if end <= start:
            return (self.starts[start], self.starts[start]) if start < len(self.starts) else (0, 0)
        return self.starts[start], self.ends[end - 1]


def _replacement(m: re.Match[str]) -> str:
    g = m.groupdict()
    if g["uid"]:
        return "@" + (g["uname"] or g["uid"])
    if g["cid"]:
        return "#" + (g["cname"] or g["cid"])
    if g["special"]:
        return g["slabel"] or "@" + g["special"].split("^")[0]
    if g["url"]:
        return g["ulabel"] or g["url"]
    if g["at"] is not None:
        return "@" + g["at"]
    if g["entity"]:
        return _ENTITIES[g["entity"].lower()]
    return " "  # an emoji shortcode separates words and says nothing


def normalise(text: str) -> Normalised:
    # Every kind of markup has a "<", "&" or ":" in it: most texts are passed by these.
    markup = "<" in text or "&" in text or ":" in text
    found = list(_MARKUP.finditer(text)) if markup else []
    if not found:
        # Most kudos carry no markup: the text maps onto itself.
        return Normalised(text, range(len(text)), range(1, len(text) + 1))
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in found:
        # The plain stretch before the markup maps onto itself, a character for one.
        out.append(text[pos : m.start()])
        starts.extend(range(pos, m.start()))
        ends.extend(range(pos + 1, m.start() + 1))
        replacement = _replacement(m)
        out.append(replacement)
        starts.extend([m.start()] * len(replacement))
        ends.extend([m.end()] * len(replacement))
        pos = m.end()
    out.append(text[pos:])
    starts.extend(range(pos, len(text)))
    ends.extend(range(pos + 1, len(text) + 1))
    return Normalised("".join(out), tuple(starts), tuple(ends))

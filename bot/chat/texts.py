"""What Plaudit says in chat, before either platform's idiom: words, names, emphasis, links.

A `Text` is a sequence of blocks (paragraphs, quotes, preformatted text, small print) made
of spans. The Slack renderer turns it into mrkdwn and Block Kit, escaping people's words
once; the Teams renderer into markdown and Adaptive Card text blocks. Nothing here knows
either platform, so neither renders from the other's markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from compliance_rules import Outcome
from handlers.counts import count
from handlers.kudos import Duplicate, KudosResult, Recorded, Refused, Stopped
from handlers.leaderboard import RECOUNTING

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
        return str(self.person.get("name") or "someone")


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


def para(*lines: Sequence[Span]) -> Para:
    return Para(tuple(tuple(line) for line in lines))


def words(*lines: str) -> Text:
    """Plain sentences, one paragraph."""
    return Text((para(*[(Words(line),) for line in lines]),))


def names(people: Sequence[Mapping[str, Any]]) -> list[Span]:
    """'A', 'A and B', 'A, B and C'."""
    spans: list[Span] = []
    for index, person in enumerate(people):
        if index:
            spans.append(Words(" and " if index == len(people) - 1 else ", "))
        spans.append(Name(person))
    return spans


def notice(data: Mapping[str, Any]) -> Text:
    return words(str(data["text"]))


def digest(data: Mapping[str, Any]) -> Text:
    head = (Strong(f"Your weekly Plaudit digest, {data.get('week', '')}"),)
    lines = [(Words(str(line)),) for line in data.get("lines", [])]
    return Text((para(head, *lines),))


def milestone(data: Mapping[str, Any]) -> Text:
    people = list(data.get("people") or [])
    who: list[Span]
    if data.get("team"):
        who = [Words("team "), Strong(str(data["team"]))]
    else:
        who = names(people) if people else [Words("the campaign team")]
    points = int(data.get("points") or 0)
    head = (Icon("trophy"), Words(" Campaign milestone: "), Strong(str(data["title"])))
    body = (
        [Words(f"{count(points, 'sprint point')} for "), *who, Words(".")]
        if points
        else [Words("Well done, "), *who, Words("!")]
    )
    return Text(
        (para(head), para(body), Small((Words(f"Sprint {data.get('sprint')}"),))),
        summary=(Words(f"Campaign milestone: {data['title']}"),),
    )


def board_lines(board: Mapping[str, Any], *, title: str) -> list[tuple[Span, ...]]:
    """A board (`handlers.leaderboard.Board.as_json()`) as lines."""
    rows = board.get("rows") or []
    if not rows:  # a board being recounted has none, and says so
        empty = RECOUNTING if board.get("recounting") else "No points yet."
        return [(Strong(title),), (Words(empty),)]
    lines: list[tuple[Span, ...]] = [(Strong(title),)]
    for row in rows:
        extra = (
            f" ({row['recognition_points']} kudos + {row['milestone_points']} milestone)"
            if row.get("milestone_points")
            else ""
        )
        who = Name({"name": row["name"], "slack_id": row.get("slack_id")})
        lines.append((Words(f"{row['rank']}. "), who, Words(f": {row['points']}{extra}")))
    return lines


def board(board: Mapping[str, Any], *, title: str) -> Text:
    return Text((para(*board_lines(board, title=title)),))


def leaderboard(data: Mapping[str, Any]) -> Text:
    kind = "Final board" if data.get("final") else "Standings"
    lines = board_lines(data["person"], title=f"{kind}, recognition sprint {data['sprint']}")
    if (data.get("team") or {}).get("rows"):
        lines += [(), *board_lines(data["team"], title="Teams")]
    return Text((para(*lines),))


def pv_alert(data: Mapping[str, Any]) -> Text:
    reporter: list[Span] = [Words(str(data["reporter"]))]
    if data.get("reporter_slack_id"):
        who = {"name": data["reporter"], "slack_id": data["reporter_slack_id"]}
        reporter = [Name(who, also=f" ({data['reporter']})")]
    head = [
        Icon("rotating_light"),
        Words(f" PV case #{data['case_id']}: possible adverse event reported by "),
        *reporter,
        Words(
            f" via {data.get('source', 'kudos')}. Day 0: {data.get('aware_at')}. "
            "It was not posted anywhere else."
        ),
    ]
    return Text((para(head), Pre(str(data["text"])), Small(rules(data.get("rules") or []))))


def rules(ids: Sequence[str]) -> tuple[Span, ...]:
    """'Rules: `a`, `b`' (or 'none')."""
    spans: list[Span] = [Words("Rules: ")]
    for index, rule in enumerate(ids):
        spans += [Words(", "), Code(str(rule))] if index else [Code(str(rule))]
    return tuple(spans if ids else [*spans, Words("none")])


def me(received: int, given: int, left: int, allowance: int) -> Text:
    return Text(
        (
            para(
                (
                    Strong("This quarter"),
                    Words(f" you received {received} and gave {given} kudos."),
                ),
                (Strong("Today"), Words(f" you have {left} of {allowance} left.")),
            ),
        )
    )


@dataclass(frozen=True)
class Commands:
    """How a platform's people ask Plaudit for things, for the help text."""

    kudos: str  # "/kudos" or "@Plaudit kudos"
    me: str
    leaderboard: str
    reactions: tuple[Span, ...]  # how reacting gives or seconds kudos there


def help_text(
    commands: Commands, values: Sequence[str], daily_allowance: int, max_recipients: int
) -> Text:
    shown: list[Span] = []
    for index, value in enumerate(values):
        shown += [Words(", "), Code(value)] if index else [Code(value)]
    lines: list[tuple[Span, ...]] = [
        (Strong("Plaudit: recognise a colleague"),),
        (
            Words("• "),
            Code(
                f"{commands.kudos} @colleague @teammate for the site activation email"
                " #site-activation"
            ),
        ),
        (Words("• "), Code(commands.kudos), Words(" on its own opens a form")),
        (Words("• "), Code(f"{commands.kudos} private @colleague …"), Words(": only they see it")),
        (
            Words("• "),
            Code(commands.me),
            Words(" shows your kudos this quarter and what you have left today"),
        ),
        (
            Words("• "),
            Code(commands.leaderboard),
            Words(" shows this sprint's board (also "),
            Code("teams"),
            Words(", "),
            Code("givers"),
            Words(", "),
            Code("team Brand"),
            Words(", "),
            Code("region EMEA"),
            Words(", "),
            Code("#value"),
            Words(")"),
        ),
        (Words("• "), *commands.reactions),
        (
            Words("Values: "),
            *(shown or [Words("none configured")]),
            Words(
                f". You can give {daily_allowance} kudos a day, "
                f"to at most {count(max_recipients, 'person', 'people')} at once."
            ),
        ),
        (
            Words(
                "Every kudos is checked against our promotional-code and privacy rules "
                "before it is posted."
            ),
        ),
    ]
    return Text((para(*lines),))


PRIVATE = "Only they see it (and their manager, if told). "


def kudos_answer(result: KudosResult) -> Text:
    """The private answer to the giver of a kudos (its buttons are the platform's)."""
    if isinstance(result, Recorded):
        lines: list[tuple[Span, ...]] = [
            (
                Icon("white_check_mark"),
                Words(
                    f" {'Private kudos' if result.private else 'Kudos'} recorded for "
                    f"{', '.join(result.recipients)}. {PRIVATE if result.private else ''}"
                    f"You have {result.allowance_left} left today."
                ),
            )
        ]
        lines += [(Icon("warning"), Words(f" {w.message}")) for w in result.warnings]
        return Text((para(*lines),))
    if isinstance(result, Refused):
        return Text((para((Icon("information_source"), Words(f" {result.message}"))),))
    if isinstance(result, Stopped):
        return Text((para((Icon("no_entry"), Words(f" {result.message}"))),))
    if isinstance(result, Duplicate):
        return words("That kudos was already recorded.")
    raise TypeError(result)  # pragma: no cover - exhaustive


def can_edit(result: KudosResult) -> bool:
    """A blocked kudos may be edited and resent, or sent for review, by its giver."""
    return isinstance(result, Stopped) and result.outcome is Outcome.BLOCK

"""What Plaudit says in chat, before either platform's idiom: words, names, emphasis, links.

A `Text` is a sequence of blocks (paragraphs, quotes, preformatted text, small print) made
of spans. The Slack renderer turns it into mrkdwn and Block Kit, escaping people's words
once; the Teams renderer into markdown and Adaptive Card text blocks. Nothing here knows
either platform, so neither renders from the other's markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.chat.spans import ICONS as ICONS
from bot.chat.spans import Block as Block
from bot.chat.spans import Code as Code
from bot.chat.spans import Icon as Icon
from bot.chat.spans import Link as Link
from bot.chat.spans import Name as Name
from bot.chat.spans import Para as Para
from bot.chat.spans import Pre as Pre
from bot.chat.spans import Quote as Quote
from bot.chat.spans import Small as Small
from bot.chat.spans import Span as Span
from bot.chat.spans import Strong as Strong
from bot.chat.spans import Text as Text
from bot.chat.spans import Words as Words
from bot.chat.spans import fill as fill
from bot.chat.spans import listed as listed
from bot.chat.spans import para as para
from bot.chat.spans import pieces as pieces
from bot.chat.spans import plain_spans as plain_spans
from bot.chat.spans import words as words
from compliance_rules import Outcome
from handlers.i18n import N_, _, joined, n_
from handlers.kudos import Duplicate, KudosResult, Recorded, Refused, Stopped
from handlers.leaderboard import RECOUNTING


def names(people: Sequence[Mapping[str, Any]]) -> list[Span]:
    """'A', 'A and B', 'A, B and C', in the current language."""
    return listed([[Name(person)] for person in people])


def notice(data: Mapping[str, Any]) -> Text:
    return words(str(data["text"]))


def digest(data: Mapping[str, Any]) -> Text:
    head = (Strong(_("Your weekly Plaudit digest, {week}", week=data.get("week", ""))),)
    lines = [(Words(str(line)),) for line in data.get("lines", [])]
    return Text((para(head, *lines),))


def milestone(data: Mapping[str, Any]) -> Text:
    title = str(data["title"])
    head = (
        Icon("trophy"),
        Words(" "),
        *fill(_("Campaign milestone: {title}"), title=Strong(title)),
    )
    return Text(
        (
            para(head),
            para(_milestone_body(data)),
            Small(tuple(fill(_("Sprint {sprint}"), sprint=str(data.get("sprint"))))),
        ),
        summary=tuple(fill(_("Campaign milestone: {title}"), title=title)),
    )


def _milestone_body(data: Mapping[str, Any]) -> list[Span]:
    """Who reached the milestone (a team, people, or the campaign's team) and its points."""
    people = list(data.get("people") or [])
    points = int(data.get("points") or 0)
    if data.get("team"):
        team = [Strong(str(data["team"]))]
        if not points:
            return fill(_("Well done, team {team}!"), team=team)
        scored = n_(
            "{n} sprint point for team {team}.",
            "{n} sprint points for team {team}.",
            points,
            team="{team}",
        )
        return fill(scored, team=team)
    if people:
        if not points:
            return fill(_("Well done, {names}!"), names=names(people))
        scored = n_(
            "{n} sprint point for {names}.",
            "{n} sprint points for {names}.",
            points,
            names="{names}",
        )
        return fill(scored, names=names(people))
    if not points:
        return [Words(_("Well done, the campaign team!"))]
    scored = n_(
        "{n} sprint point for the campaign team.",
        "{n} sprint points for the campaign team.",
        points,
    )
    return [Words(scored)]


def board_lines(board: Mapping[str, Any], *, title: str) -> list[tuple[Span, ...]]:
    """A board (`handlers.leaderboard.Board.as_json()`) as lines."""
    rows = board.get("rows") or []
    if not rows:  # a board being recounted has none, and says so
        empty = _(RECOUNTING) if board.get("recounting") else _("No points yet.")
        return [(Strong(title),), (Words(empty),)]
    lines: list[tuple[Span, ...]] = [(Strong(title),)]
    for row in rows:
        who = Name({"name": row["name"], "slack_id": row.get("slack_id")})
        said = (
            _("{rank}. {name}: {points} ({kudos} kudos + {milestone} milestone)")
            if row.get("milestone_points")
            else _("{rank}. {name}: {points}")
        )
        lines.append(
            tuple(
                fill(
                    said,
                    rank=str(row["rank"]),
                    name=who,
                    points=str(row["points"]),
                    kudos=str(row.get("recognition_points")),
                    milestone=str(row.get("milestone_points")),
                )
            )
        )
    return lines


def board(board: Mapping[str, Any], *, title: str) -> Text:
    return Text((para(*board_lines(board, title=title)),))


def leaderboard(data: Mapping[str, Any]) -> Text:
    sprint = data["sprint"]
    title = (
        _("Final board, recognition sprint {sprint}", sprint=sprint)
        if data.get("final")
        else _("Standings, recognition sprint {sprint}", sprint=sprint)
    )
    lines = board_lines(data["person"], title=title)
    if (data.get("team") or {}).get("rows"):
        lines += [(), *board_lines(data["team"], title=_("Teams"))]
    return Text((para(*lines),))


def pv_alert(data: Mapping[str, Any]) -> Text:
    reporter: list[Span] = [Words(str(data["reporter"]))]
    if data.get("reporter_slack_id"):
        who = {"name": data["reporter"], "slack_id": data["reporter_slack_id"]}
        reporter = [Name(who, also=f" ({data['reporter']})")]
    said = _(
        "PV case #{case}: possible adverse event reported by {reporter} via {source}. "
        "Day 0: {day_zero}. It was not posted anywhere else."
    )
    head = [
        Icon("rotating_light"),
        Words(" "),
        *fill(
            said,
            case=str(data["case_id"]),
            reporter=reporter,
            source=str(data.get("source", "kudos")),
            day_zero=str(data.get("aware_at")),
        ),
    ]
    return Text((para(head), Pre(str(data["text"])), Small(rules(data.get("rules") or []))))


def rules(ids: Sequence[str]) -> tuple[Span, ...]:
    """'Rules: `a`, `b`' (or 'none')."""
    if not ids:
        return (Words(_("Rules: none")),)
    shown: list[Span] = []
    for index, rule in enumerate(ids):
        shown += [Words(_(", ")), Code(str(rule))] if index else [Code(str(rule))]
    return tuple(fill(_("Rules: {rules}"), rules=shown))


def me(received: int, given: int, left: int, allowance: int) -> Text:
    # i18n: {this_quarter} is "This quarter", in bold
    quarter = _("{this_quarter} you received {received} and gave {given} kudos.")
    # i18n: {today} is "Today", in bold
    today = _("{today} you have {left} of {allowance} left.")
    return Text(
        (
            para(
                fill(
                    quarter,
                    this_quarter=Strong(_("This quarter")),
                    received=received,
                    given=given,
                ),
                fill(today, today=Strong(_("Today")), left=left, allowance=allowance),
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
    bullet = Words("• ")
    # i18n: an example people may type; keep {command}, {private} and the #value as they are
    private = _("{command} {private} @colleague …", command=commands.kudos, private="private")
    example = _(
        "{command} @colleague @teammate for the site activation email #site-activation",
        command=commands.kudos,
    )
    # i18n: each {…} is a command people type, shown as code
    board = _(
        "{command} shows this sprint's board (also {teams}, {givers}, {team}, {region}, {value})"
    )
    lines: list[tuple[Span, ...]] = [
        (Strong(_("Plaudit: recognise a colleague")),),
        (bullet, Code(example)),
        (bullet, *fill(_("{command} on its own opens a form"), command=Code(commands.kudos))),
        (bullet, *fill(_("{command}: only they see it"), command=Code(private))),
        (
            bullet,
            *fill(
                _("{command} shows your kudos this quarter and what you have left today"),
                command=Code(commands.me),
            ),
        ),
        (
            bullet,
            *fill(
                board,
                command=Code(commands.leaderboard),
                teams=Code("teams"),
                givers=Code("givers"),
                team=Code("team Brand"),
                region=Code("region EMEA"),
                value=Code("#value"),
            ),
        ),
        (bullet, *commands.reactions),
        (*_values(values), Words(" "), Words(_limits(daily_allowance, max_recipients))),
        (
            Words(
                _(
                    "Every kudos is checked against our promotional-code and privacy rules "
                    "before it is posted."
                )
            ),
        ),
    ]
    return Text((para(*lines),))


def _values(values: Sequence[str]) -> list[Span]:
    if not values:
        return [Words(_("Values: none configured."))]
    shown: list[Span] = []
    for index, value in enumerate(values):
        shown += [Words(_(", ")), Code(value)] if index else [Code(value)]
    return fill(_("Values: {values}."), values=shown)


def _limits(daily_allowance: int, max_recipients: int) -> str:
    return n_(
        "You can give {allowance} kudos a day, to at most {n} person at once.",
        "You can give {allowance} kudos a day, to at most {n} people at once.",
        max_recipients,
        allowance=daily_allowance,
    )


PRIVATE = N_("Only they see it (and their manager, if told).")


def kudos_answer(result: KudosResult) -> Text:
    """The private answer to the giver of a kudos (its buttons are the platform's)."""
    if isinstance(result, Recorded):
        lines: list[tuple[Span, ...]] = [(Icon("white_check_mark"), Words(" " + _recorded(result)))]
        lines += [(Icon("warning"), Words(f" {w.message}")) for w in result.warnings]
        return Text((para(*lines),))
    if isinstance(result, Refused):
        return Text((para((Icon("information_source"), Words(f" {result.message}"))),))
    if isinstance(result, Stopped):
        return Text((para((Icon("no_entry"), Words(f" {result.message}"))),))
    if isinstance(result, Duplicate):
        return words(_("That kudos was already recorded."))
    raise TypeError(result)  # pragma: no cover - exhaustive


def _recorded(result: Recorded) -> str:
    who = joined(result.recipients)
    left = _("You have {left} left today.", left=result.allowance_left)
    if result.private:
        said = _("Private kudos recorded for {names}.", names=who)
        return " ".join((said, _(PRIVATE), left))
    return " ".join((_("Kudos recorded for {names}.", names=who), left))


def can_edit(result: KudosResult) -> bool:
    """A blocked kudos may be edited and resent, or sent for review, by its giver."""
    return isinstance(result, Stopped) and result.outcome is Outcome.BLOCK

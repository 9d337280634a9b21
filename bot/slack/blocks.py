"""Block Kit for Slack: neutral texts as mrkdwn, public posts, DMs, private answers, the
kudos and review forms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.chat import texts
from bot.slack.form import MODAL_CALLBACK as MODAL_CALLBACK  # the listeners' too
from bot.slack.form import for_message, plain
from bot.slack.form import modal as modal
from bot.slack.form import modal_context as modal_context
from bot.slack.markup import CONTEXT_LIMIT, TEXT_LIMIT, cut, shorten, spans, split, units
from bot.slack.markup import escape as escape  # survey.py's too
from bot.slack.markup import mrkdwn as mrkdwn  # render.py's too
from handlers.i18n import _, n_
from handlers.kudos import KudosResult, Recorded, Stopped
from handlers.policy import KudosPolicy
from handlers.stats import Summary

REJECT_MODAL = "review_reject_modal"
ASK_REVIEW = "kudos_ask_review"
EDIT_KUDOS = "kudos_edit"
RETRACT = "kudos_retract"
REVIEW_APPROVE = "review_approve"
REVIEW_REJECT = "review_reject"
# A message's blocks (`invalid_blocks` beyond), a menu's options, an option's text and value.
MAX_BLOCKS = 50
# The words all of a message's blocks may carry: Slack does not say (`msg_blocks_too_long` has
# been seen from about 11,000 characters), so a post keeps well below.
BLOCKS_TEXT_LIMIT = 10_000


def _mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object. `verbatim`: Slack adds no links of its own to the words (a bare
    URL, a channel name, an `@here` typed in a form), so people's words stay inert, while the
    mentions and links Plaudit writes as `<...>` still work."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def split_section(text: str) -> list[dict[str, Any]]:
    """mrkdwn as consecutive sections, each within Slack's limit."""
    return [_section(piece) for piece in split(text) if piece.strip()]


def split_context(text: str) -> list[dict[str, Any]]:
    """Small print as consecutive context lines, each within Slack's limit."""
    return [_context(piece) for piece in split(text, CONTEXT_LIMIT) if piece.strip()]


def _shown(block: Mapping[str, Any]) -> list[str]:
    """The words a block shows (its buttons and menus aside)."""
    if block.get("type") in ("section", "header"):
        return [str(block["text"]["text"])] if block.get("text") else []
    return [str(e["text"]) for e in block.get("elements") or [] if isinstance(e.get("text"), str)]


def size(block: Mapping[str, Any]) -> int:
    """The characters a block shows, as Slack counts them against a message's words."""
    return sum(units(t) for t in _shown(block))


def capped(blocks: list[dict[str, Any]], words: int | None = None) -> list[dict[str, Any]]:
    """At most the blocks (and `words`) Slack takes in a message: the head, then a line saying
    how much was left out, then the buttons that end the message (if any)."""
    sizes = [size(b) for b in blocks]
    room = sum(sizes) + 100 if words is None else words
    if len(blocks) <= MAX_BLOCKS and sum(sizes) <= room:
        return blocks
    tail = blocks[-1:] if blocks[-1].get("type") == "actions" else []
    kept = 0  # the note takes a block, and up to 100 characters
    while kept < MAX_BLOCKS - 1 - len(tail) and sum(sizes[: kept + 1]) <= room - 100:
        kept += 1
    body = blocks[: len(blocks) - len(tail)]
    left = sum(len(t.splitlines()) for b in body[kept:] for t in _shown(b))
    # i18n: the English keeps one plural wording for every count; use your language's forms
    note = n_("(message shortened: {n} more lines)", "(message shortened: {n} more lines)", left)
    return [*body[:kept], _context(escape(note)), *tail]


def posts(content: dict[str, Any]) -> list[dict[str, Any]]:
    """A message as the posts Slack takes: itself, or, past 50 blocks or the words Slack takes
    in one message's blocks (`msg_blocks_too_long`), several posts; nothing is left out."""
    parts: list[list[dict[str, Any]]] = [[]]
    used = 0
    for block in content.get("blocks") or []:
        words = size(block)
        if parts[-1] and (len(parts[-1]) == MAX_BLOCKS or used + words > BLOCKS_TEXT_LIMIT):
            parts, used = [*parts, []], 0
        parts[-1].append(block)
        used += words
    if len(parts) == 1:
        return [content]
    text = str(content.get("text") or "")
    return [
        {**content, "blocks": part, "text": shorten(_part(text, n, len(parts)))}
        for n, part in enumerate(parts, 1)
    ]


def as_text(content: Mapping[str, Any]) -> list[str]:
    """A message's words without its blocks, as the texts of as many messages as Slack needs."""
    shown = [t for b in content.get("blocks") or [] for t in _shown(b)]
    words = "\n\n".join(shown) if shown else str(content.get("text") or "")
    return [piece for piece in split(words, TEXT_LIMIT) if piece.strip()] or [words or "…"]


def sections(text: texts.Text) -> list[dict[str, Any]]:
    """A neutral text as blocks: a long paragraph goes on in the next section."""
    return [
        part
        for block in text.blocks
        for part in (split_context if isinstance(block, texts.Small) else split_section)(
            mrkdwn(block)
        )
    ]


def from_text(text: texts.Text, *, whole: bool = False, **extra: Any) -> dict[str, Any]:
    """A message of neutral text: its blocks (at most 50 unless it must go out `whole`), and
    the first paragraph (or the summary), kept short, as the notification's text."""
    summary = spans(text.summary) if text.summary else mrkdwn(text.blocks[0])
    blocks = sections(text)
    return {"text": shorten(summary), "blocks": blocks if whole else capped(blocks), **extra}


def _part(text: str, number: int, parts: int) -> str:
    """A message's text, saying which of its posts this is."""
    return _("{text} ({number} of {parts})", text=text, number=number, parts=parts)


def _said(sentence: str, **parts: str | texts.Span | Sequence[texts.Span]) -> str:
    """A sentence of Plaudit's (translated, its slots unfilled) as mrkdwn, its words escaped."""
    return spans(texts.fill(sentence, **parts))


def _people(data: Mapping[str, Any]) -> dict[str, list[texts.Span]]:
    """The giver and the recipients of a kudos, as mentions."""
    return {"giver": [texts.Name(data["giver"])], "recipients": texts.names(data["recipients"])}


def kudos_public(data: Mapping[str, Any]) -> dict[str, Any]:
    who = _people(data)
    if data.get("source") == "reaction":
        link = data.get("permalink")
        said = (
            _said(
                _("{giver} gave kudos to {recipients} for {message}"),
                message=texts.Link(str(link), _("this message")),
                **who,
            )
            if link
            else _said(_("{giver} gave kudos to {recipients}"), **who)
        )
        body = f":{data.get('emoji') or 'clap'}: {said}"
        blocks = split_section(body)
    else:
        body = f":tada: {_said(_('{giver} gave kudos to {recipients}'), **who)}"
        blocks = [*split_section(body), *split_section(f"> {escape(str(data['message']))}")]
        blocks += _for_message(data)
    values = data.get("values") or []
    if values:
        blocks += split_context(" ".join(f"`{escape(v)}`" for v in values))
    return {"text": shorten(_plain(body, data)), "blocks": capped(blocks), "unfurl_links": False}


def _for_message(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A link to the message a kudos is for (given from its shortcut), if any."""
    link = str(data.get("permalink") or "")
    if not link.startswith("https://") or any(c in link for c in "<>| "):
        return []
    return split_context(for_message(link))


def kudos_received(data: Mapping[str, Any]) -> dict[str, Any]:
    giver = texts.Name(data["giver"])
    if data.get("source") == "reaction":
        link = data.get("permalink")
        said = (
            _said(
                _("{giver} gave you kudos on {message}."),
                giver=giver,
                message=texts.Link(str(link), _("your message")),
            )
            if link
            else _said(_("{giver} gave you kudos."), giver=giver)
        )
        text = f":{data.get('emoji') or 'clap'}: {said}"
        return {"text": shorten(text), "blocks": split_section(text), "unfurl_links": False}
    said = (
        _said(_("{giver} gave you private kudos"), giver=giver)
        if data.get("private")
        else _said(_("{giver} gave you kudos"), giver=giver)
    )
    text = f":tada: {said}"
    blocks = [*split_section(text), *split_section(f"> {escape(str(data['message']))}")]
    blocks += _for_message(data)
    if data.get("private"):
        only = _("Only you see this kudos: it is not posted in any channel.")
        blocks += split_context(escape(only))
    return {"text": shorten(text), "blocks": capped(blocks), "unfurl_links": False}


def review_request(data: Mapping[str, Any]) -> dict[str, Any]:
    review_id = str(data["review_id"])
    held = _(
        "Kudos #{kudos} is held for compliance review (#{review}).",
        kudos=data["recognition_id"],
        review=review_id,
    )
    text = f":mag: {escape(held)}"
    blocks = [
        _section(text),
        *split_section(f"> {escape(str(data['text']))}"),
        *split_context(spans(texts.rules(data.get("rules") or []))),
        {
            "type": "actions",
            "block_id": f"review_{review_id}",
            "elements": [
                # i18n: at most 75 characters (Slack button text)
                _button(_("Approve"), REVIEW_APPROVE, review_id, style="primary"),
                # i18n: at most 75 characters (Slack button text)
                _button(_("Reject"), REVIEW_REJECT, review_id, style="danger"),
            ],
        },
    ]
    return {"text": text, "blocks": capped(blocks), "unfurl_links": False}


def reject_modal(review_id: int) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": REJECT_MODAL,
        "private_metadata": str(review_id),
        # i18n: at most 24 characters (Slack modal title)
        "title": plain(_("Reject kudos")),
        # i18n: at most 24 characters (Slack modal button)
        "submit": plain(_("Reject")),
        # i18n: at most 24 characters (Slack modal button)
        "close": plain(_("Cancel")),
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": plain(_("Why? The giver will see this."), 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "text",
                    "multiline": True,
                    "max_length": 1000,
                },
            }
        ],
    }


def _plain(head: str, data: Mapping[str, Any]) -> str:
    message_text = str(data.get("message") or "")
    return f"{head}: {escape(message_text)}" if message_text else head


def _button(text: str, action_id: str, value: str, **style: str) -> dict[str, Any]:
    label = {"type": "plain_text", "text": cut(text, 75)}  # Slack's most
    return {"type": "button", "action_id": action_id, "text": label, "value": value, **style}


def _answer(text: texts.Text, *buttons: dict[str, Any]) -> dict[str, Any]:
    """A private answer, which Slack takes in one piece (the HTTP response to a command):
    what does not fit in one message is left out, and it says so."""
    content = from_text(text, whole=True, response_type="ephemeral")
    actions = [{"type": "actions", "elements": list(buttons)}] if buttons else []
    content["blocks"] = capped([*content["blocks"], *actions], BLOCKS_TEXT_LIMIT)
    return content


def answer(result: KudosResult) -> dict[str, Any]:
    """The private answer to the giver of a `/kudos` command."""
    if isinstance(result, Recorded):  # its giver may take it back, for a while
        ref = str(result.recognition_id)
        # i18n: at most 75 characters (Slack button text)
        return _answer(texts.kudos_answer(result), _button(_("Take back"), RETRACT, ref))
    if not texts.can_edit(result):
        return _answer(texts.kudos_answer(result))
    assert isinstance(result, Stopped)
    ref = str(result.recognition_id)
    # i18n: at most 75 characters (Slack button text)
    edit = _button(_("Edit and resend"), EDIT_KUDOS, ref, style="primary")
    # i18n: at most 75 characters (Slack button text)
    ask = _button(_("Ask for review"), ASK_REVIEW, ref)
    return _answer(texts.kudos_answer(result), edit, ask)


def answer_words(result: KudosResult) -> str:
    """The giver's answer as plain words, for a notice (which escapes them, once)."""
    return texts.kudos_answer(result).plain()


def help_answer(policy: KudosPolicy) -> dict[str, Any]:
    commands = texts.Commands(
        kudos="/kudos",
        me="/kudos me",
        leaderboard="/kudos leaderboard",
        reactions=tuple(
            texts.fill(
                _("React with {emoji} on a colleague's message to give one kudos"),
                emoji=[
                    span
                    for index, e in enumerate(policy.reaction_emoji)
                    for span in ((texts.Words(" "),) if index else ()) + (texts.Icon(e),)
                ],
            )
        ),
    )
    text = texts.help_text(commands, policy.values, policy.daily_allowance, policy.max_recipients)
    return _answer(text)


def me_answer(summary: Summary) -> dict[str, Any]:
    text = texts.me(summary.received, summary.given, summary.allowance_left, summary.allowance)
    return _answer(text)


def leaderboard_answer(board: Mapping[str, Any], title: str) -> dict[str, Any]:
    """The private answer to `/kudos leaderboard ...`."""
    return _answer(texts.board(board, title=title))

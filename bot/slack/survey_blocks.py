"""The survey DM as Slack blocks: one group per question (score buttons, a menu, or a button
that opens the answer form), the person's answers marked, and the free-text answer form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.slack.blocks import (
    BLOCKS_TEXT_LIMIT,
    MAX_BLOCKS,
    escape,
    size,
    split_context,
    split_section,
)
from bot.slack.form import plain
from handlers import surveys
from handlers.i18n import _, n_

TEXT_MODAL = "survey_text"


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


def _button(text: str, action_id: str, value: dict[str, Any], chosen: bool) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": plain(text, 75),
        "action_id": action_id,
        "value": json.dumps(value, separators=(",", ":")),
    }
    if chosen:
        button["style"] = "primary"
    return button


def _option(text: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text[:75]}, "value": text[:150]}


def _when(iso: str) -> str:
    at = datetime.fromisoformat(iso)
    # Slack fills in `{date_short_pretty}` and `{time}` in the reader's own format.
    shown = _("{date} at {time}", date="{date_short_pretty}", time="{time}")
    return f"<!date^{int(at.timestamp())}^{escape(shown)}|{at:%d %b %Y %H:%M} UTC>"


def invite(data: Mapping[str, Any], *, closed: bool = False) -> dict[str, Any]:
    """The survey DM: one block group per question, the person's answers marked."""
    answers: Mapping[str, Any] = data.get("answers") or {}
    title = str(data["title"])
    head = _("Reminder: {title}", title=title) if data.get("reminder") else title
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head[:150]}}
    ]
    if data.get("intro"):
        blocks += split_section(escape(str(data["intro"])))
    if data.get("anonymous"):
        anonymous = _(
            "Anonymous: your name is never stored with your answers, and results are only "
            "shown for groups large enough that no one can be singled out."
        )
        blocks.append(_context(f":lock: {escape(anonymous)}"))
    groups = [
        _question(q, index, int(data["round_id"]), answers.get(str(q["id"])), closed)
        for index, q in enumerate(data["questions"], start=1)
    ]
    shown = _fitting(blocks, groups)
    blocks += [block for group in groups[:shown] for block in group]
    if shown < len(groups):
        blocks.append(_context(escape(_left_out(shown + 1, len(groups)))))
    if closed:
        blocks.append(_context(escape(_("This round has closed. Thank you for taking part."))))
    else:
        until = escape(_("You can change your answers until {when}."))
        blocks.append(_context(until.format(when=_when(str(data["closes_at"])))))
    n = len(data["questions"])
    # i18n: the English keeps one plural wording for every count; use your language's forms
    text = n_("{title}: {n} quick questions", "{title}: {n} quick questions", n, title=head)
    return {"text": text, "blocks": blocks}


def _left_out(first: int, total: int) -> str:
    """Which questions did not fit (`first` to the last)."""
    if first < total:
        return _(
            "Question {first} to {last} of {total} did not fit in this Slack message.",
            first=first,
            last=total,
            total=total,
        )
    return _(
        "Question {first} of {total} did not fit in this Slack message.", first=first, total=total
    )


def _fitting(head: list[dict[str, Any]], groups: list[list[dict[str, Any]]]) -> int:
    """How many questions fit in one message after `head`: 50 blocks and the words Slack takes
    (less the closing line and a note). The message is updated in place as people answer, so
    it cannot go on in another; the questions that do not fit are named, never dropped
    silently."""
    room = MAX_BLOCKS - len(head) - 2
    words = BLOCKS_TEXT_LIMIT - sum(size(b) for b in head) - 400
    shown = 0
    for group in groups:
        room, words = room - len(group), words - sum(size(b) for b in group)
        if room < 0 or words < 0:
            break
        shown += 1
    return shown


def _question(
    q: Mapping[str, Any], index: int, round_id: int, given: Any, closed: bool
) -> list[dict[str, Any]]:
    """One question's blocks: its text, then the answer given (closed) or the controls."""
    out = split_section(f"*{index}. {escape(str(q['text']))}*")
    if closed:
        return out + split_context(_your_answer(_shown(given)))
    if q["type"] in ("scale", "enps"):
        return out + _scale(q, round_id, given)
    if q["type"] == "choice":
        return [*out, _choice(q, round_id, given)]
    return out + _free_text(q, round_id, given)


def _scale(q: Mapping[str, Any], round_id: int, given: Any) -> list[dict[str, Any]]:
    """A row of score buttons, the chosen one marked, and what the ends mean."""
    qid = str(q["id"])
    low, high = (0, 10) if q["type"] == "enps" else (1, 5)
    buttons = [
        _button(str(v), f"survey:{qid}:{v}", {"r": round_id, "q": qid, "v": v}, given == v)
        for v in range(low, high + 1)
    ]
    out: list[dict[str, Any]] = [{"type": "actions", "block_id": f"q:{qid}", "elements": buttons}]
    labels = list(q.get("labels") or ())
    if q["type"] == "enps":
        labels = [_("Not at all likely"), _("Extremely likely")]
    if len(labels) == 2:
        out.append(_context(f"{low} = {escape(labels[0])} · {high} = {escape(labels[1])}"))
    elif len(labels) == 5:
        out.append(_context(" · ".join(f"{i} = {escape(t)}" for i, t in enumerate(labels, 1))))
    return out


def _choice(q: Mapping[str, Any], round_id: int, given: Any) -> dict[str, Any]:
    """A menu of the options (several for a multi-choice question), the chosen ones set."""
    qid = str(q["id"])
    element: dict[str, Any] = {
        "type": "multi_static_select" if q.get("multi") else "static_select",
        "action_id": f"survey:{qid}",
        # i18n: at most 150 characters (Slack placeholder)
        "placeholder": plain(_("Choose"), 150),
        "options": [_option(o) for o in q["options"]],
    }
    picked = [o for o in q["options"] if isinstance(given, list) and o in given]
    if picked and q.get("multi"):
        element["initial_options"] = [_option(o) for o in picked]
    elif picked:
        element["initial_option"] = _option(picked[0])
    return {"type": "actions", "block_id": f"q:{qid}:{round_id}", "elements": [element]}


def _free_text(q: Mapping[str, Any], round_id: int, given: Any) -> list[dict[str, Any]]:
    """A button that opens the answer form, and the answer given so far."""
    qid = str(q["id"])
    # i18n: at most 75 characters (Slack button text)
    change = _("Change your answer")
    # i18n: at most 75 characters (Slack button text)
    label = change if given else _("Write an answer")
    button = _button(label, f"survey-text:{qid}", {"r": round_id, "q": qid}, False)
    out: list[dict[str, Any]] = [{"type": "actions", "block_id": f"q:{qid}", "elements": [button]}]
    if given:
        # Cut before escaping, so that no escape (`&amp;`) is cut in two.
        out.append(_context(_your_answer(_shown(given)[:500])))
    return out


def _your_answer(answer: str) -> str:
    """'Your answer: …' as mrkdwn: the sentence's words and the answer each escaped once."""
    return escape(_("Your answer: {answer}")).format(answer=escape(answer))


def _shown(value: Any) -> str:
    if value is None:
        return _("none")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or _("none")
    return str(value)


def text_modal(meta: dict[str, Any], question: str, current: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "text",
        "multiline": True,
        "max_length": surveys.MAX_TEXT,
    }
    if current:
        element["initial_value"] = current
    return {
        "type": "modal",
        "callback_id": TEXT_MODAL,
        "private_metadata": json.dumps(meta, separators=(",", ":")),
        # i18n: at most 24 characters (Slack modal title)
        "title": plain(_("Your answer")),
        # i18n: at most 24 characters (Slack modal button)
        "submit": plain(_("Save")),
        # i18n: at most 24 characters (Slack modal button)
        "close": plain(_("Cancel")),
        "blocks": [
            {
                "type": "input",
                "block_id": "answer",
                "label": {"type": "plain_text", "text": question[:2000]},
                "element": element,
            }
        ],
    }

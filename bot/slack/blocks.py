"""Block Kit for Slack: public posts, DMs, private answers and the kudos modal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compliance_rules import Outcome
from handlers.kudos import Duplicate, KudosResult, Recorded, Refused, Stopped
from handlers.policy import KudosPolicy
from handlers.stats import Summary

MODAL_CALLBACK = "kudos_modal"
REJECT_MODAL = "review_reject_modal"
ASK_REVIEW = "kudos_ask_review"
EDIT_KUDOS = "kudos_edit"
REVIEW_APPROVE = "review_approve"
REVIEW_REJECT = "review_reject"


def escape(text: str) -> str:
    """Make user text inert: no pings, no links, no markup injected through `<...>`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _who(person: Mapping[str, Any]) -> str:
    slack_id = person.get("slack_id")
    return f"<@{slack_id}>" if slack_id else escape(str(person.get("name", "someone")))


def _names(people: list[Mapping[str, Any]]) -> str:
    names = [_who(p) for p in people]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def message(template: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The `text` and `blocks` of an outbox message."""
    if template == "kudos.public":
        return _public(data)
    if template == "kudos.received":
        return _received(data)
    if template == "pv.alert":
        return _pv_alert(data)
    if template == "review.request":
        return _review_request(data)
    if template == "notice":
        text = str(data["text"])
        return {"text": text, "blocks": [_section(text)]}
    if template == "digest.weekly":
        lines = [escape(str(line)) for line in data.get("lines", [])]
        head = f"*Your weekly Plaudit digest, {escape(str(data.get('week', '')))}*"
        text = "\n".join([head, *lines])
        return {"text": text, "blocks": [_section(text)]}
    if template == "milestone.reached":
        return _milestone(data)
    if template == "leaderboard.post":
        text = leaderboard_text(data)
        return {"text": text, "blocks": [_section(text)]}
    raise ValueError(f"unknown template {template!r}")


def _public(data: Mapping[str, Any]) -> dict[str, Any]:
    giver, recipients = _who(data["giver"]), _names(data["recipients"])
    if data.get("source") == "reaction":
        head = f":{data.get('emoji') or 'clap'}: {giver} gave kudos to {recipients}"
        link = data.get("permalink")
        body = f"{head} for <{link}|this message>" if link else head
        blocks = [_section(body)]
    else:
        body = f":tada: {giver} gave kudos to {recipients}"
        blocks = [_section(body), _section(f"> {escape(str(data['message']))}")]
    values = data.get("values") or []
    if values:
        blocks.append(_context(" ".join(f"`{escape(v)}`" for v in values)))
    return {"text": _plain(body, data), "blocks": blocks, "unfurl_links": False}


def _received(data: Mapping[str, Any]) -> dict[str, Any]:
    giver = _who(data["giver"])
    if data.get("source") == "reaction":
        link = data.get("permalink")
        where = f" on <{link}|your message>" if link else ""
        text = f":{data.get('emoji') or 'clap'}: {giver} gave you kudos{where}."
        return {"text": text, "blocks": [_section(text)], "unfurl_links": False}
    text = f":tada: {giver} gave you kudos"
    blocks = [_section(text), _section(f"> {escape(str(data['message']))}")]
    return {"text": text, "blocks": blocks, "unfurl_links": False}


def _pv_alert(data: Mapping[str, Any]) -> dict[str, Any]:
    slack_id = data.get("reporter_slack_id")
    reporter = (
        f"<@{slack_id}> ({escape(str(data['reporter']))})"
        if slack_id
        else escape(str(data["reporter"]))
    )
    text = (
        f":rotating_light: PV case #{data['case_id']}: possible adverse event reported by "
        f"{reporter} via {data.get('source', 'kudos')}. Day 0: {data.get('aware_at')}. "
        "It was not posted anywhere else."
    )
    blocks = [
        _section(text),
        _section(f"```{escape(str(data['text']))}```"),
        _context("Rules: " + ", ".join(f"`{r}`" for r in data.get("rules", []))),
    ]
    return {"text": text, "blocks": blocks, "unfurl_links": False}


def _review_request(data: Mapping[str, Any]) -> dict[str, Any]:
    review_id = str(data["review_id"])
    text = f":mag: Kudos #{data['recognition_id']} is held for compliance review (#{review_id})."
    blocks = [
        _section(text),
        _section(f"> {escape(str(data['text']))}"),
        _context("Rules: " + (", ".join(f"`{r}`" for r in data.get("rules", [])) or "none")),
        {
            "type": "actions",
            "block_id": f"review_{review_id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": REVIEW_APPROVE,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": review_id,
                },
                {
                    "type": "button",
                    "action_id": REVIEW_REJECT,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "value": review_id,
                },
            ],
        },
    ]
    return {"text": text, "blocks": blocks, "unfurl_links": False}


def reject_modal(review_id: int) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": REJECT_MODAL,
        "private_metadata": str(review_id),
        "title": {"type": "plain_text", "text": "Reject kudos"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Why? The giver will see this."},
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


def answer(result: KudosResult) -> dict[str, Any]:
    """The private answer to the giver of a `/kudos` command."""
    if isinstance(result, Recorded):
        who = ", ".join(result.recipients)
        lines = [
            f":white_check_mark: Kudos recorded for {escape(who)}. "
            f"You have {result.allowance_left} left today."
        ]
        for warning in result.warnings:
            lines.append(f":warning: {escape(warning.message)}")
        text = "\n".join(lines)
    elif isinstance(result, Refused):
        text = f":information_source: {result.message}"
    elif isinstance(result, Stopped):
        text = f":no_entry: {escape(result.message)}"
        if result.outcome is Outcome.BLOCK:
            ask = {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": EDIT_KUDOS,
                        "style": "primary",
                        "text": {"type": "plain_text", "text": "Edit and resend"},
                        "value": str(result.recognition_id),
                    },
                    {
                        "type": "button",
                        "action_id": ASK_REVIEW,
                        "text": {"type": "plain_text", "text": "Ask for review"},
                        "value": str(result.recognition_id),
                    },
                ],
            }
            return {"response_type": "ephemeral", "text": text, "blocks": [_section(text), ask]}
    elif isinstance(result, Duplicate):
        text = "That kudos was already recorded."
    else:  # pragma: no cover - exhaustive
        raise TypeError(result)
    return {"response_type": "ephemeral", "text": text, "blocks": [_section(text)]}


def help_answer(policy: KudosPolicy) -> dict[str, Any]:
    values = ", ".join(f"`{v}`" for v in policy.values) or "none configured"
    emoji = " ".join(f":{e}:" for e in policy.reaction_emoji)
    text = "\n".join(
        [
            "*Plaudit: recognise a colleague*",
            "• `/kudos @colleague @teammate for the site activation email #site-activation`",
            "• `/kudos` on its own opens a form",
            "• `/kudos me` shows your kudos this quarter and what you have left today",
            "• `/kudos leaderboard` shows this sprint's board "
            "(also `teams`, `givers`, `team Brand`, `region EMEA`, `#value`)",
            f"• React with {emoji} on a colleague's message to give one kudos",
            f"Values: {values}. You can give {policy.daily_allowance} kudos a day, "
            f"to at most {policy.max_recipients} people at once.",
            "Every kudos is checked against our promotional-code and privacy rules "
            "before it is posted.",
        ]
    )
    return {"response_type": "ephemeral", "text": text, "blocks": [_section(text)]}


def me_answer(summary: Summary) -> dict[str, Any]:
    text = (
        f"*This quarter* you received {summary.received} and gave {summary.given} kudos.\n"
        f"*Today* you have {summary.allowance_left} of {summary.allowance} left."
    )
    return {"response_type": "ephemeral", "text": text, "blocks": [_section(text)]}


def modal(
    policy: KudosPolicy,
    channel_id: str | None,
    *,
    users: tuple[str, ...] = (),
    text: str = "",
    value: str | None = None,
) -> dict[str, Any]:
    """The kudos form; filled in from a blocked kudos when the giver edits and resends."""
    options = [{"text": {"type": "plain_text", "text": v}, "value": v} for v in policy.values[:100]]
    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": "recipients",
            "label": {"type": "plain_text", "text": "Who deserves kudos?"},
            "element": {
                "type": "multi_users_select",
                "action_id": "users",
                "max_selected_items": policy.max_recipients,
                **({"initial_users": list(users)} if users else {}),
            },
        }
    ]
    if options:
        blocks.append(
            {
                "type": "input",
                "block_id": "value",
                "optional": not policy.require_value,
                "label": {"type": "plain_text", "text": "Which value did they live?"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": options,
                    **(
                        {"initial_option": next(o for o in options if o["value"] == value)}
                        if value in policy.values
                        else {}
                    ),
                },
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": "message",
            "label": {"type": "plain_text", "text": "What did they do?"},
            "element": {
                "type": "plain_text_input",
                "action_id": "text",
                "multiline": True,
                "min_length": max(policy.min_message_length, 1),
                "max_length": 2000,
                **({"initial_value": text[:2000]} if text else {}),
            },
        }
    )
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "private_metadata": channel_id or "",
        "title": {"type": "plain_text", "text": "Give kudos"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _milestone(data: Mapping[str, Any]) -> dict[str, Any]:
    people = list(data.get("people") or [])
    who = (
        f"team *{escape(str(data['team']))}*"
        if data.get("team")
        else (_names(people) if people else "the campaign team")
    )
    points = int(data.get("points") or 0)
    head = f":trophy: Campaign milestone: *{escape(str(data['title']))}*"
    body = f"{points} sprint points for {who}." if points else f"Well done, {who}!"
    return {
        "text": f"Campaign milestone: {data['title']}",
        "blocks": [_section(head), _section(body), _context(f"Sprint {data.get('sprint')}")],
    }


def board_lines(board: Mapping[str, Any], *, title: str) -> list[str]:
    """A board (as `handlers.leaderboard.Board.as_json()`) as lines of mrkdwn."""
    rows = board.get("rows") or []
    if not rows:
        return [f"*{title}*", "No points yet."]
    lines = [f"*{title}*"]
    for row in rows:
        who = f"<@{row['slack_id']}>" if row.get("slack_id") else escape(str(row["name"]))
        extra = (
            f" ({row['recognition_points']} kudos + {row['milestone_points']} milestone)"
            if row.get("milestone_points")
            else ""
        )
        lines.append(f"{row['rank']}. {who}: {row['points']}{extra}")
    return lines


def leaderboard_text(data: Mapping[str, Any]) -> str:
    kind = "Final board" if data.get("final") else "Standings"
    lines = board_lines(data["person"], title=f"{kind}, recognition sprint {data['sprint']}")
    if data.get("team", {}).get("rows"):
        lines += ["", *board_lines(data["team"], title="Teams")]
    return "\n".join(lines)


def leaderboard_answer(board: Mapping[str, Any], title: str) -> dict[str, Any]:
    """The private answer to `/kudos leaderboard ...`."""
    text = "\n".join(board_lines(board, title=title))
    return {"response_type": "ephemeral", "text": text, "blocks": [_section(text)]}

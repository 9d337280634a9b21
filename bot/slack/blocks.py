"""Block Kit for Slack: neutral texts as mrkdwn, public posts, DMs, private answers, the
kudos and review forms."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.chat import texts
from handlers.kudos import KudosResult, Stopped
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


def spans(items: Iterable[texts.Span]) -> str:
    """Neutral spans as mrkdwn: people's words escaped once, names as mentions."""
    out: list[str] = []
    for span in items:
        if isinstance(span, texts.Words):
            out.append(escape(span.text))
        elif isinstance(span, texts.Strong):
            out.append(f"*{escape(span.text)}*")
        elif isinstance(span, texts.Name):
            mention = _who(span.person)
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


def sections(text: texts.Text) -> list[dict[str, Any]]:
    return [
        _context(mrkdwn(block)) if isinstance(block, texts.Small) else _section(mrkdwn(block))
        for block in text.blocks
    ]


def from_text(text: texts.Text, **extra: Any) -> dict[str, Any]:
    """A message of neutral text: its blocks, and the first paragraph (or the summary) as
    the notification's text."""
    summary = spans(text.summary) if text.summary else mrkdwn(text.blocks[0])
    return {"text": summary, "blocks": sections(text), **extra}


def kudos_public(data: Mapping[str, Any]) -> dict[str, Any]:
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


def kudos_received(data: Mapping[str, Any]) -> dict[str, Any]:
    giver = _who(data["giver"])
    if data.get("source") == "reaction":
        link = data.get("permalink")
        where = f" on <{link}|your message>" if link else ""
        text = f":{data.get('emoji') or 'clap'}: {giver} gave you kudos{where}."
        return {"text": text, "blocks": [_section(text)], "unfurl_links": False}
    text = f":tada: {giver} gave you kudos"
    blocks = [_section(text), _section(f"> {escape(str(data['message']))}")]
    return {"text": text, "blocks": blocks, "unfurl_links": False}


def review_request(data: Mapping[str, Any]) -> dict[str, Any]:
    review_id = str(data["review_id"])
    text = f":mag: Kudos #{data['recognition_id']} is held for compliance review (#{review_id})."
    blocks = [
        _section(text),
        _section(f"> {escape(str(data['text']))}"),
        _context(spans(texts.rules(data.get("rules") or []))),
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
    content = from_text(texts.kudos_answer(result), response_type="ephemeral")
    if texts.can_edit(result):
        assert isinstance(result, Stopped)
        content["blocks"].append(
            {
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
        )
    return content


def help_answer(policy: KudosPolicy) -> dict[str, Any]:
    commands = texts.Commands(
        kudos="/kudos",
        me="/kudos me",
        leaderboard="/kudos leaderboard",
        reactions=(
            texts.Words("React with "),
            *[
                span
                for index, e in enumerate(policy.reaction_emoji)
                for span in ((texts.Words(" "),) if index else ()) + (texts.Icon(e),)
            ],
            texts.Words(" on a colleague's message to give one kudos"),
        ),
    )
    text = texts.help_text(commands, policy.values, policy.daily_allowance, policy.max_recipients)
    return from_text(text, response_type="ephemeral")


def me_answer(summary: Summary) -> dict[str, Any]:
    text = texts.me(summary.received, summary.given, summary.allowance_left, summary.allowance)
    return from_text(text, response_type="ephemeral")


def modal(
    policy: KudosPolicy,
    channel_id: str | None,
    *,
    users: tuple[str, ...] = (),
    text: str = "",
    value: str | None = None,
) -> dict[str, Any]:
    """The kudos form; filled in from a blocked kudos when the giver edits and resends."""
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
    if policy.values:
        blocks.append(_value_input(policy, value))
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


def _value_input(policy: KudosPolicy, value: str | None) -> dict[str, Any]:
    """The company values as a menu (Slack shows at most 100 options)."""
    options = [{"text": {"type": "plain_text", "text": v}, "value": v} for v in policy.values[:100]]
    chosen = next((o for o in options if o["value"] == value), None)
    return {
        "type": "input",
        "block_id": "value",
        "optional": not policy.require_value,
        "label": {"type": "plain_text", "text": "Which value did they live?"},
        "element": {
            "type": "static_select",
            "action_id": "value",
            "options": options,
            **({"initial_option": chosen} if chosen else {}),
        },
    }


def leaderboard_answer(board: Mapping[str, Any], title: str) -> dict[str, Any]:
    """The private answer to `/kudos leaderboard ...`."""
    return from_text(texts.board(board, title=title), response_type="ephemeral")

"""What Plaudit says in Teams: Adaptive Cards and markdown text, from the same data the
Slack renderer uses (only the idiom differs)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.slack import blocks as slack_render
from bot.slack import survey as slack_survey
from compliance_rules import Outcome
from handlers.kudos import Duplicate, KudosResult, Recorded, Refused, Stopped
from handlers.policy import KudosPolicy

CARD = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
GIVE = "kudos.give"
EDIT = "kudos.edit"
ASK_REVIEW = "review.ask"
APPROVE = "review.approve"
SURVEY_ANSWER = "survey.answer"
REJECT = "review.reject"
_EMOJI = {
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
}


def markdown(text: str) -> str:
    """Slack mrkdwn as Teams markdown: *bold*, <url|label>, :emoji:, escaped entities."""
    text = re.sub(r"<(https?://[^>|]+)\|([^>]+)>", r"[\2](\1)", text)
    text = re.sub(r"<(https?://[^>|]+)>", r"\1", text)
    text = re.sub(r"<@[A-Z0-9]+\|([^>]+)>", r"\1", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"**\1**", text)
    text = re.sub(r":([a-z0-9_+-]+):", lambda m: _EMOJI.get(m.group(1), ""), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    # Teams markdown needs a blank line for a line break.
    return re.sub(r"(?<!\n)\n(?!\n)", "\n\n", text)


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {
        "$schema": SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return content


def attachment(content: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": CARD, "content": content}


def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def _execute(title: str, verb: str, data: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """An Action.Execute (Universal Actions); clients without it fall back to Action.Submit."""
    payload = {"verb": verb, **data}
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": payload,
        "fallback": {"type": "Action.Submit", "title": title, "data": payload},
        **extra,
    }


def _mention(person: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
    name = str(person.get("name") or "someone")
    aad = person.get("teams_id")
    if not aad:
        return f"**{name}**", None
    tag = f"<at>{name}</at>"
    return tag, {"type": "mention", "text": tag, "mentioned": {"id": aad, "name": name}}


def message(template: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The activity fields (`text`, `attachments`, `entities`) of an outbox message."""
    if template == "kudos.public":
        return _public(data)
    if template == "review.request":
        return _review_request(data)
    if template == "kudos.received":
        return _received(data)
    if template == "answer.card":
        return {"attachments": [attachment(dict(data["card"]))]}
    if template == "survey.invite":
        return {"attachments": [attachment(survey_card(data))]}
    if template == "survey.results":
        return {"text": markdown(slack_survey.results_text(data))}
    return {"text": markdown(str(slack_render.message(template, data)["text"]))}


def _public(data: Mapping[str, Any]) -> dict[str, Any]:
    giver, giver_entity = _mention(data["giver"])
    tags: list[str] = []
    entities = [e for e in (giver_entity,) if e]
    for person in data["recipients"]:
        tag, entity = _mention(person)
        tags.append(tag)
        if entity:
            entities.append(entity)
    who = ", ".join(tags)
    if data.get("source") == "reaction":
        head = f"👏 {giver} recognised {who} with a reaction"
    else:
        head = f"🎉 {giver} recognised {who}"
    body = [_text(head, weight="Bolder", size="Medium")]
    if data.get("message"):
        body.append(_text(str(data["message"])))
    if data.get("values"):
        body.append(_text(" ".join(str(v) for v in data["values"]), isSubtle=True))
    body.append(_text("React to this card to second it.", isSubtle=True, size="Small"))
    content = card(body)
    if entities:
        content["msteams"] = {"entities": entities}
    return {"attachments": [attachment(content)]}


def _received(data: Mapping[str, Any]) -> dict[str, Any]:
    giver = str(data["giver"].get("name") or "A colleague")
    if data.get("source") == "reaction":
        text = f"👍 {giver} seconded a kudos for you with a {data.get('emoji') or 'like'}."
        return {"text": text}
    body = [_text(f"🎉 {giver} gave you kudos", weight="Bolder")]
    if data.get("message"):
        body.append(_text(str(data["message"])))
    if data.get("values"):
        body.append(_text(" ".join(str(v) for v in data["values"]), isSubtle=True))
    return {"attachments": [attachment(card(body))]}


def _review_request(data: Mapping[str, Any]) -> dict[str, Any]:
    review_id = data["review_id"]
    body = [
        _text(f"⏳ Held for compliance review #{review_id}", weight="Bolder"),
        _text(str(data.get("text") or "")),
        _text("Rules: " + ", ".join(str(r) for r in data.get("rules") or []), isSubtle=True),
        {
            "type": "Input.Text",
            "id": "reason",
            "label": "Reason (needed to reject)",
            "isMultiline": True,
            "maxLength": 1000,
        },
    ]
    actions = [
        _execute("Approve", APPROVE, {"review_id": review_id}, style="positive"),
        _execute("Reject", REJECT, {"review_id": review_id}, style="destructive"),
    ]
    return {"attachments": [attachment(card(body, actions))]}


def decided_card(text: str) -> dict[str, Any]:
    return card([_text(text)])


def answer_card(result: KudosResult) -> dict[str, Any]:
    """The giver's answer, as a card: recorded, refused, or stopped with what to do next."""
    if isinstance(result, Recorded):
        lines = [
            f"✅ Kudos recorded for {', '.join(result.recipients)}. "
            f"You have {result.allowance_left} left today."
        ]
        lines += [f"⚠️ {w.message}" for w in result.warnings]
        return card([_text("\n\n".join(lines))])
    if isinstance(result, Refused):
        return card([_text(f"💡 {result.message}")])
    if isinstance(result, Stopped):
        body = [_text(f"⛔ {result.message}")]
        if result.outcome is Outcome.BLOCK:
            ref = {"recognition_id": result.recognition_id}
            return card(
                body,
                [
                    _execute("Edit and resend", EDIT, ref, style="positive"),
                    _execute("Ask for review", ASK_REVIEW, ref),
                ],
            )
        return card(body)
    if isinstance(result, Duplicate):
        return card([_text("That kudos was already recorded.")])
    raise TypeError(result)  # pragma: no cover - exhaustive


def kudos_form(
    policy: KudosPolicy,
    *,
    recipients: tuple[str, ...] = (),
    message: str = "",
    value: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The kudos form: a people picker, the company values, and the message."""
    body: list[dict[str, Any]] = [_text("Give kudos", weight="Bolder", size="Medium")]
    if error:
        body.append(_text(f"💡 {error}", color="Attention"))
    body += [
        {
            "type": "Input.ChoiceSet",
            "id": "recipients",
            "label": "Who",
            "isMultiSelect": True,
            "isRequired": True,
            "errorMessage": "Choose at least one colleague",
            "choices": [],
            "choices.data": {"type": "Data.Query", "dataset": "graph.microsoft.com/users"},
            "value": ",".join(recipients),
        },
        {
            "type": "Input.ChoiceSet",
            "id": "value",
            "label": "Company value",
            "isRequired": policy.require_value,
            "choices": [{"title": v, "value": v} for v in policy.values],
            **({"value": value} if value else {}),
        },
        {
            "type": "Input.Text",
            "id": "message",
            "label": "What did they do?",
            "isMultiline": True,
            "isRequired": True,
            "maxLength": 1000,
            "value": message,
        },
    ]
    return card(body, [_execute("Send kudos", GIVE, {}, style="positive")])


def help_text(policy: KudosPolicy) -> str:
    values = ", ".join(f"`{v}`" for v in policy.values) or "none configured"
    reactions = ", ".join(policy.teams_reactions) or "none"
    lines = [
        "**Plaudit: recognise a colleague**",
        "• `@Plaudit kudos @colleague @teammate for the site activation email #site-activation`",
        "• `@Plaudit kudos` on its own opens a form",
        "• `@Plaudit me` shows your kudos this quarter and what you have left today",
        "• `@Plaudit leaderboard` shows this sprint's board "
        "(also `teams`, `givers`, `team Brand`, `region EMEA`, `#value`)",
        f"• React ({reactions}) to a kudos card to second it: one more point to each "
        "person it thanks",
        f"Values: {values}. You can give {policy.daily_allowance} kudos a day, "
        f"to at most {policy.max_recipients} people at once.",
        "Every kudos is checked against our promotional-code and privacy rules before it "
        "is posted.",
    ]
    return "\n\n".join(lines)


def survey_card(
    data: Mapping[str, Any], *, note: str | None = None, closed: bool = False
) -> dict[str, Any]:
    """A pulse survey as one card: a input per question, filled with the person's current
    answers, and one Submit (answers can be changed until the round closes)."""
    answers: Mapping[str, Any] = data.get("answers") or {}
    title = str(data["title"])
    head = f"Reminder: {title}" if data.get("reminder") else title
    body: list[dict[str, Any]] = [_text(head, weight="Bolder", size="Medium")]
    if data.get("intro"):
        body.append(_text(str(data["intro"])))
    if data.get("anonymous"):
        body.append(
            _text(
                "🔒 Anonymous: your name is never stored with your answers, and results are "
                "only shown for groups large enough that no one can be singled out.",
                isSubtle=True,
                size="Small",
            )
        )
    if note:
        body.append(_text(note, color="Attention"))
    for index, q in enumerate(data["questions"], start=1):
        qid = str(q["id"])
        given = answers.get(qid)
        label = f"{index}. {q['text']}"
        if closed:
            shown = ", ".join(given) if isinstance(given, list) else given
            body.append(_text(f"**{label}**\n\nYour answer: {shown if shown else '-'}"))
            continue
        field: dict[str, Any] = {"id": f"q_{qid}", "label": label}
        if q["type"] in ("scale", "enps"):
            low, high = (0, 10) if q["type"] == "enps" else (1, 5)
            labels = list(q.get("labels") or ())
            if q["type"] == "enps":
                labels = ["Not at all likely", "Extremely likely"]

            def title_of(
                v: int, low: int = low, high: int = high, labels: list[str] = labels
            ) -> str:
                if len(labels) == 5:
                    return f"{v} {labels[v - 1]}"
                if len(labels) == 2 and v in (low, high):
                    return f"{v} {labels[0] if v == low else labels[1]}"
                return str(v)

            field |= {
                "type": "Input.ChoiceSet",
                "style": "expanded" if q["type"] == "scale" else "compact",
                "choices": [{"title": title_of(v), "value": str(v)} for v in range(low, high + 1)],
            }
            if isinstance(given, int):
                field["value"] = str(given)
        elif q["type"] == "choice":
            field |= {
                "type": "Input.ChoiceSet",
                "isMultiSelect": bool(q.get("multi")),
                "style": "expanded",
                "choices": [{"title": o, "value": o} for o in q["options"]],
            }
            if isinstance(given, list) and given:
                field["value"] = ",".join(given)
        else:
            field |= {"type": "Input.Text", "isMultiline": True, "maxLength": 2000}
            if isinstance(given, str):
                field["value"] = given
        body.append(field)
    if closed:
        return card(body)
    closes = str(data.get("closes_at") or "")[:16].replace("T", " ")
    body.append(
        _text(
            f"Open until {closes} UTC; you can change your answers until then.",
            isSubtle=True,
            size="Small",
        )
    )
    action = _execute("Submit", SURVEY_ANSWER, {"round_id": data["round_id"]}, style="positive")
    return card(body, [action])

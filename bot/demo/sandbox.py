"""The demo's sandbox: a `/kudos` text or a pulse survey answered as any member through the
real use cases, and what the bot would post in Slack (Block Kit) and Teams (Adaptive Card),
as plain items a page can show."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.chat.handles import parse
from bot.demo.seed import open_round_id, person
from bot.runtime import Runtime
from bot.slack import blocks as slack_render
from bot.slack import survey as slack_survey
from bot.teams import render as teams_render
from handlers import kudos, surveys
from handlers.events import KudosRequested, Person
from storage import queries
from storage.models import Member, SurveyRound

_VALUE = re.compile(r"(?<![\w#&/])#[a-z0-9][a-z0-9_-]*", re.IGNORECASE)
_SLACK_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_TEAMS_MENTION = re.compile(r"<at>(.*?)</at>")
MAX_TEXT = 1000


# -- kudos ------------------------------------------------------------------------------------


async def give(
    runtime: Runtime, giver: Member, text: str, members: Sequence[Member]
) -> dict[str, Any]:
    """`/kudos text` from `giver` through the real use case: what they are told, and the
    public post in Slack and Teams when it is published."""
    recipients, message = parse(text, members)
    values = tuple(dict.fromkeys(v.lower() for v in _VALUE.findall(message)))
    event = KudosRequested(
        key=f"demo:sandbox:{uuid.uuid4()}",
        giver=person(giver),
        recipients=tuple(recipients),
        message=message,
        values=values,
        source="cli",
    )

    def work(s: Session) -> tuple[kudos.KudosResult, dict[str, Any] | None]:
        result = kudos.give(
            event, session=s, policy=runtime.policy, clock=runtime.clock, rules=runtime.rules
        )
        data = None
        if isinstance(result, kudos.Recorded):
            key = f"recognition:{result.recognition_id}:public"
            data = queries.queued_data(session=s, key=key)
        return result, data

    result, data = await runtime.run(work)
    if isinstance(result, kudos.Recorded):
        answer = (
            f"Recorded kudos #{result.recognition_id} for {', '.join(result.recipients)}; "
            f"{result.allowance_left} left today."
        )
        return {
            "kind": "recorded",
            "answer": answer,
            "warnings": [f.message for f in result.warnings],
            "slack": slack_preview(data) if data else [],
            "teams": teams_preview(data) if data else [],
        }
    if isinstance(result, kudos.Stopped):
        return {
            "kind": "stopped",
            "outcome": result.outcome.value,
            "answer": result.message,
            "findings": [(f.rule, f.message, f.suggestion) for f in result.findings],
        }
    if isinstance(result, kudos.Refused):
        return {"kind": "refused", "answer": result.message}
    return {"kind": "duplicate", "answer": "Already recorded."}


def slack_preview(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The kudos post's Slack blocks as a reader sees them (mentions as @names)."""
    return blocks(slack_render.kudos_public(data), _ids(data, "slack_id"))


def teams_preview(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The kudos post's Adaptive Card, item by item."""
    return card(teams_render.kudos_public(data))


def _ids(data: Mapping[str, Any], key: str) -> dict[str, str]:
    people = [data.get("giver") or {}, *(data.get("recipients") or [])]
    return {str(p[key]): str(p.get("name", "")) for p in people if p.get(key)}


# -- rendering as plain items -----------------------------------------------------------------

_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_SHORTCODES = {":lock:": "\N{LOCK}", ":tada:": "\N{PARTY POPPER}", ":trophy:": "\N{TROPHY}"}


def _readable(text: str, names: Mapping[str, str]) -> str:
    text = _SLACK_MENTION.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    text = _DATE.sub(lambda m: m.group(1), text)
    for code, emoji in _SHORTCODES.items():
        text = text.replace(code, emoji)
    # Slack's own escaping, undone once: the page escapes everything again.
    return html.unescape(text)


def blocks(
    rendered: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Block Kit blocks as items: header, section (or strong, when wholly bold), context,
    and buttons or a menu with what is chosen marked."""
    out: list[dict[str, Any]] = []
    for block in rendered.get("blocks", []):
        kind = block.get("type")
        if kind == "header":
            out.append({"kind": "header", "text": str(block["text"]["text"]), "options": []})
        elif kind == "section":
            text = _readable(str(block.get("text", {}).get("text", "")), names or {})
            bold = re.fullmatch(r"\*([^*\n]+)\*", text)
            out.append(
                {
                    "kind": "strong" if bold else "section",
                    "text": bold.group(1) if bold else text,
                    "options": [],
                }
            )
        elif kind == "context":
            text = " ".join(str(e.get("text", "")) for e in block.get("elements", []))
            out.append({"kind": "context", "text": _readable(text, names or {}), "options": []})
        elif kind == "actions":
            options: list[dict[str, Any]] = []
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    label = str(element["text"]["text"])
                    options.append({"label": label, "chosen": element.get("style") == "primary"})
                elif "options" in element:
                    picked = [element.get("initial_option"), *element.get("initial_options", [])]
                    chosen = {str(o["value"]) for o in picked if o}
                    options += [
                        {"label": str(o["text"]["text"]), "chosen": str(o["value"]) in chosen}
                        for o in element["options"]
                    ]
            out.append({"kind": "actions", "text": "", "options": options})
    return out


def card(rendered: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An Adaptive Card's body and actions as items: text (strong, subtle or attention),
    choice sets with what is chosen marked, text inputs with their value, buttons."""
    out: list[dict[str, Any]] = []
    for attachment in rendered.get("attachments", []):
        content = attachment.get("content", {})
        for item in content.get("body", []):
            kind = item.get("type")
            if kind == "TextBlock":
                text = _TEAMS_MENTION.sub(lambda m: "@" + m.group(1), str(item.get("text", "")))
                style = (
                    "strong"
                    if item.get("weight") == "Bolder"
                    else "attention"
                    if item.get("color") == "Attention"
                    else "subtle"
                    if item.get("isSubtle")
                    else "text"
                )
                out.append({"kind": style, "text": text, "options": []})
            elif kind == "Input.ChoiceSet":
                chosen = set(str(item.get("value", "")).split(","))
                options = [
                    {"label": str(c["title"]), "chosen": str(c["value"]) in chosen}
                    for c in item.get("choices", [])
                ]
                out.append(
                    {"kind": "choices", "text": str(item.get("label", "")), "options": options}
                )
            elif kind == "Input.Text":
                out.append(
                    {
                        "kind": "input",
                        "text": str(item.get("label", "")),
                        "value": str(item.get("value", "")),
                        "options": [],
                    }
                )
        buttons = [{"label": str(a["title"]), "chosen": False} for a in content.get("actions", [])]
        if buttons:
            out.append({"kind": "actions", "text": "", "options": buttons})
    return out


# -- the pulse survey -------------------------------------------------------------------------


def survey_form(session: Session, now: datetime) -> dict[str, Any] | None:
    """The open pulse round's questions as form fields, or None when no round is open."""
    round_id = open_round_id(session, now)
    round_ = session.get(SurveyRound, round_id) if round_id is not None else None
    if round_ is None:
        return None
    survey = surveys.survey_from_json(round_.definition)
    questions = []
    for q in survey.questions:
        options: list[tuple[str, str]] = []
        if q.type in ("scale", "enps"):
            low, high = q.scores()[0], q.scores()[-1]
            ends = ("Not at all likely", "Extremely likely") if q.type == "enps" else q.labels
            for v in q.scores():
                label = str(v)
                if len(ends) == 2 and v in (low, high):
                    label += f" {ends[0] if v == low else ends[1]}"
                elif len(ends) == 5:
                    label += f" {ends[v - 1]}"
                options.append((str(v), label))
        elif q.type == "choice":
            options = [(o, o) for o in q.options]
        questions.append(
            {"id": q.id, "type": q.type, "text": q.text, "optional": q.optional, "options": options}
        )
    return {
        "round_id": round_.id,
        "number": round_.number,
        "title": survey.title,
        "intro": survey.intro,
        "anonymous": round_.anonymous,
        "closes_at": round_.closes_at,
        "questions": questions,
    }


Outcome = surveys.Answered | surveys.AnswerRefused


def refusal(text: str) -> dict[str, Any]:
    """A line the member is told when an answer is not taken."""
    return {"text": text, "ok": False}


def _event(
    who: Person, round_id: int, question: Mapping[str, Any], raw: str
) -> surveys.SurveyAnswered:
    qid = str(question["id"])
    if question["type"] in ("scale", "enps"):
        score = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 3 else -1
        return surveys.SurveyAnswered(who, round_id, qid, score=score)
    if question["type"] == "choice":
        return surveys.SurveyAnswered(who, round_id, qid, choices=(raw,))
    return surveys.SurveyAnswered(who, round_id, qid, text=raw)


async def answer(
    runtime: Runtime, member: Member, form: Mapping[str, Any], fields: Mapping[str, str]
) -> dict[str, Any]:
    """The posted answers through the real use case, one question at a time as the Slack
    buttons and the Teams card send them: what the member is told, what was kept, and the
    survey message as it is redrawn in Slack and Teams."""
    who = person(member)
    round_id = int(form["round_id"])
    asked = [
        (q, raw)
        for q in form["questions"]
        if (raw := (fields.get(f"q_{q['id']}") or "").strip()[: surveys.MAX_TEXT + 1])
    ]
    if not asked:
        return {"kind": "empty", "told": [refusal("Pick or write at least one answer.")]}

    def work(s: Session) -> tuple[list[tuple[str, Outcome]], dict[str, Any] | None]:
        now = runtime.clock.now()
        outcomes = [
            (
                str(q["text"]),
                surveys.answer(
                    _event(who, round_id, q, raw),
                    session=s,
                    now=now,
                    rules=runtime.rules,
                    policy=runtime.policy,
                ),
            )
            for q, raw in asked
        ]
        return outcomes, surveys.invite_for(s, round_id, who)

    outcomes, invite = await runtime.run(work)
    told: list[dict[str, Any]] = []
    note = None
    for text, outcome in outcomes:
        if isinstance(outcome, surveys.AnswerRefused):
            told.append(refusal(f"{text} {outcome.message}"))
        elif outcome.note:
            told.append({"text": outcome.note, "ok": True})
            note = outcome.note
    saved = sum(isinstance(o, surveys.Answered) for _, o in outcomes)
    current: Mapping[str, Any] = (invite or {}).get("answers") or {}
    kept = [
        (str(q["text"]), ", ".join(v) if isinstance(v, list) else str(v))
        for q in form["questions"]
        if (v := current.get(str(q["id"]))) not in (None, "", [])
    ]
    return {
        "kind": "answered" if saved else "refused",
        "saved": saved,
        "told": told,
        "kept": kept,
        "slack": blocks(slack_survey.invite(invite)) if invite else [],
        "teams": card(
            {"attachments": [teams_render.attachment(teams_render.survey_card(invite, note=note))]}
        )
        if invite
        else [],
    }

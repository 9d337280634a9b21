"""Pulse surveys in Slack: the DM with buttons and menus, answers, and the results post."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.runtime import Runtime
from bot.slack.blocks import (
    BLOCKS_TEXT_LIMIT,
    MAX_BLOCKS,
    escape,
    size,
    split_context,
    split_section,
)
from handlers import surveys
from handlers.events import Person
from handlers.messages import Template, message
from storage import outbox

log = logging.getLogger("plaudit.slack")
ANSWER = re.compile(r"^survey:")
WRITE = re.compile(r"^survey-text:")
TEXT_MODAL = "survey_text"
SORRY = "Something went wrong on our side and your answer was not recorded; please try again."


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


def _button(text: str, action_id: str, value: dict[str, Any], chosen: bool) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
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
    return (
        f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{at:%d %b %Y %H:%M} UTC>"
    )


def invite(data: Mapping[str, Any], *, closed: bool = False) -> dict[str, Any]:
    """The survey DM: one block group per question, the person's answers marked."""
    answers: Mapping[str, Any] = data.get("answers") or {}
    title = str(data["title"])
    head = f"Reminder: {title}" if data.get("reminder") else title
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head[:150]}}
    ]
    if data.get("intro"):
        blocks += split_section(escape(str(data["intro"])))
    if data.get("anonymous"):
        blocks.append(
            _context(
                ":lock: Anonymous: your name is never stored with your answers, and results "
                "are only shown for groups large enough that no one can be singled out."
            )
        )
    groups = [
        _question(q, index, int(data["round_id"]), answers.get(str(q["id"])), closed)
        for index, q in enumerate(data["questions"], start=1)
    ]
    shown = _fitting(blocks, groups)
    blocks += [block for group in groups[:shown] for block in group]
    if shown < len(groups):
        which = f"Question {shown + 1}" + (f" to {len(groups)}" if shown + 1 < len(groups) else "")
        blocks.append(_context(f"{which} of {len(groups)} did not fit in this Slack message."))
    if closed:
        blocks.append(_context("This round has closed. Thank you for taking part."))
    else:
        blocks.append(
            _context(f"You can change your answers until {_when(str(data['closes_at']))}.")
        )
    text = f"{head}: {len(data['questions'])} quick questions"
    return {"text": text, "blocks": blocks}


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
        return out + split_context(f"Your answer: {escape(_shown(given))}")
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
        labels = ["Not at all likely", "Extremely likely"]
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
        "placeholder": {"type": "plain_text", "text": "Choose"},
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
    label = "Change your answer" if given else "Write an answer"
    button = _button(label, f"survey-text:{qid}", {"r": round_id, "q": qid}, False)
    out: list[dict[str, Any]] = [{"type": "actions", "block_id": f"q:{qid}", "elements": [button]}]
    if given:
        # Cut before escaping, so that no escape (`&amp;`) is cut in two.
        out.append(_context(f"Your answer: {escape(_shown(given)[:500])}"))
    return out


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
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
        "title": {"type": "plain_text", "text": "Your answer"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "answer",
                "label": {"type": "plain_text", "text": question[:2000]},
                "element": element,
            }
        ],
    }


def register(app: AsyncApp, runtime: Runtime) -> None:
    """Listeners for survey buttons, menus and the free-text form.

    The message is redrawn through the outbox, paced within chat.update's Tier 3 and
    retried after a 429; a click made while an earlier redraw still waits replaces it."""

    async def record(
        event: surveys.SurveyAnswered, channel: str | None, ts: str | None
    ) -> surveys.Answered | surveys.AnswerRefused:
        where = (channel, ts) if channel and ts else None
        result = await runtime.run(partial(_answer_in, event, runtime=runtime, where=where))
        runtime.poke()
        return result

    async def show(
        client: AsyncWebClient,
        person: Person,
        channel: str | None,
        result: surveys.Answered | surveys.AnswerRefused,
    ) -> None:
        """Say what the redrawn message cannot: a refusal, or a note on the answer."""
        said = result.message if isinstance(result, surveys.AnswerRefused) else result.note
        if not (said and channel):
            return
        try:
            await client.chat_postEphemeral(channel=channel, user=person.user_id, text=said)
        except SlackApiError as exc:
            log.warning("could not answer a survey click: %s", exc.response.get("error"))

    @app.action(ANSWER)
    async def on_answer(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        person = _person(body)
        channel, ts = _where(body)
        event = _event(person, action)
        if event is None:
            await show(client, person, channel, surveys.AnswerRefused("invalid", SORRY))
            return
        try:
            result = await record(event, channel, ts)
        except Exception:
            log.exception("recording a survey answer failed")
            result = surveys.AnswerRefused("error", SORRY)
        await show(client, person, channel, result)

    @app.action(WRITE)
    async def on_write(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        try:
            value = json.loads(str(action.get("value") or "{}"))
            round_id, qid = int(value["r"]), str(value["q"])
        except (ValueError, KeyError, TypeError):
            return
        person = _person(body)
        channel, ts = _where(body)
        found = await runtime.run(
            partial(_question_of, round_id, qid, person, secret=runtime.survey_secret)
        )
        try:
            if found is None:
                if channel:
                    await client.chat_postEphemeral(
                        channel=channel,
                        user=person.user_id,
                        text="This round has closed, so answers are no longer accepted.",
                    )
                return
            meta = {"r": round_id, "q": qid, "c": channel, "t": ts}
            await client.views_open(
                trigger_id=str(body.get("trigger_id")), view=text_modal(meta, *found)
            )
        except SlackApiError as exc:
            log.warning("could not open the survey form: %s", exc.response.get("error"))

    @app.view(TEXT_MODAL)
    async def on_text(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        person = _person(body)
        try:
            meta = json.loads(str(view.get("private_metadata") or "{}"))
            round_id, qid = int(meta["r"]), str(meta["q"])
        except (ValueError, KeyError, TypeError):
            await ack(response_action="errors", errors={"answer": SORRY})
            return
        values = view.get("state", {}).get("values", {})
        text = str(values.get("answer", {}).get("text", {}).get("value") or "")
        event = surveys.SurveyAnswered(person, round_id, qid, text=text)
        try:
            result = await record(event, meta.get("c"), meta.get("t"))
        except Exception:
            log.exception("recording a survey answer failed")
            await ack(response_action="errors", errors={"answer": SORRY})
            return
        if isinstance(result, surveys.AnswerRefused):
            await ack(response_action="errors", errors={"answer": result.message[:150]})
            return
        await ack()
        await show(client, person, meta.get("c"), result)


def _answer_in(
    event: surveys.SurveyAnswered,
    session: Session,
    *,
    runtime: Runtime,
    where: tuple[str, str] | None = None,
) -> surveys.Answered | surveys.AnswerRefused:
    """Record the answer and, in the same transaction, queue the redraw of the message
    `where` (channel, ts) it was given in."""
    now = runtime.clock.now()
    result = surveys.answer(
        event,
        session=session,
        now=now,
        rules=runtime.rules,
        policy=runtime.policy,
        secret=runtime.survey_secret,
    )
    if isinstance(result, surveys.Answered) and where is not None:
        channel, ts = where
        # The row carries no answers (an anonymous round's are never written beside a
        # person's id): the dispatcher reads them when it sends.
        data = {k: v for k, v in result.invite.items() if k != "answers"}
        redraw = message(
            Template.SURVEY_INVITE,
            data,
            key=f"survey:redraw:{channel}:{ts}:{uuid.uuid4().hex}",
            platform="slack",
            workspace=event.person.workspace,
            channel=channel,
            kind="update",
            user=event.person.user_id,
        )
        outbox.queue_update(session, redraw, ref=ts, now=now)
    return result


def _question_of(
    round_id: int, qid: str, person: Person, session: Session, *, secret: bytes | None
) -> tuple[str, str | None] | None:
    return surveys.question_for(session, round_id, qid, person, secret=secret)


def _person(body: dict[str, Any]) -> Person:
    user = body.get("user") or {}
    team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
    user_id = str(user.get("id") or "")
    return Person("slack", team, user_id, str(user.get("name") or user_id))


def _where(body: dict[str, Any]) -> tuple[str | None, str | None]:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return (str(channel) if channel else None), (str(ts) if ts else None)


def _event(person: Person, action: dict[str, Any]) -> surveys.SurveyAnswered | None:
    """A click or a menu choice as an answer; None when the payload is not one of ours."""
    try:
        if action.get("type") == "button":
            value = json.loads(str(action.get("value") or ""))
            return surveys.SurveyAnswered(
                person, int(value["r"]), str(value["q"]), score=int(value["v"])
            )
        parts = str(action.get("action_id", "")).split(":")
        block = str(action.get("block_id", "")).split(":")
        if len(parts) != 2 or len(block) != 3:
            return None
        if action.get("type") == "static_select":
            chosen = [action.get("selected_option") or {}]
        else:
            chosen = list(action.get("selected_options") or [])
        picked = tuple(str(o.get("value")) for o in chosen if o.get("value") is not None)
        return surveys.SurveyAnswered(person, int(block[2]), parts[1], choices=picked)
    except (ValueError, KeyError, TypeError):
        return None

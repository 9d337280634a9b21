"""Pulse surveys in Slack: the answers given with the DM's buttons, menus and form, recorded
and the DM drawn again (its blocks: `survey_blocks`)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import replace
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.runtime import Runtime
from bot.slack.people import SlackPeople
from bot.slack.survey_blocks import TEXT_MODAL, text_modal
from bot.slack.survey_blocks import invite as invite  # the renderers' too
from handlers import i18n, surveys
from handlers.events import Person
from handlers.i18n import N_, _
from handlers.messages import Template, message
from storage import outbox

log = logging.getLogger("plaudit.slack")
ANSWER = re.compile(r"^survey:")
WRITE = re.compile(r"^survey-text:")
SORRY = N_("Something went wrong on our side and your answer was not recorded; please try again.")


def register(app: AsyncApp, runtime: Runtime, people: SlackPeople) -> None:
    """Listeners for survey buttons, menus and the free-text form, answered in the language
    of the person who clicked.

    The message is redrawn through the outbox, paced within chat.update's Tier 3 and
    retried after a 429; a click made while an earlier redraw still waits replaces it."""

    async def asker(body: dict[str, Any]) -> Person:
        """Who clicked, with the locale their Slack speaks (when Slack says)."""
        person = _person(body)
        found = await people.find(person.workspace or "", person.user_id)
        return replace(person, locale=found.locale) if found else person

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
        person = await asker(body)
        channel, ts = _where(body)
        event = _event(person, action)
        with i18n.speaking(person.locale):
            if event is None:
                await show(client, person, channel, surveys.AnswerRefused("invalid", _(SORRY)))
                return
            try:
                result = await record(event, channel, ts)
            except Exception:
                log.exception("recording a survey answer failed")
                result = surveys.AnswerRefused("error", _(SORRY))
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
        person = await asker(body)
        channel, ts = _where(body)
        found = await runtime.run(
            partial(_question_of, round_id, qid, person, secret=runtime.survey_secret)
        )
        try:
            with i18n.speaking(person.locale):
                closed = _("This round has closed, so answers are no longer accepted.")
                meta = {"r": round_id, "q": qid, "c": channel, "t": ts}
                form = text_modal(meta, *found) if found else None
            if form is None:
                if channel:
                    await client.chat_postEphemeral(
                        channel=channel, user=person.user_id, text=closed
                    )
                return
            await client.views_open(trigger_id=str(body.get("trigger_id")), view=form)
        except SlackApiError as exc:
            log.warning("could not open the survey form: %s", exc.response.get("error"))

    @app.view(TEXT_MODAL)
    async def on_text(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        person = await asker(body)
        with i18n.speaking(person.locale):
            await submitted(ack, person, view, client)

    async def submitted(
        ack: AsyncAck, person: Person, view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            meta = json.loads(str(view.get("private_metadata") or "{}"))
            round_id, qid = int(meta["r"]), str(meta["q"])
        except (ValueError, KeyError, TypeError):
            await ack(response_action="errors", errors={"answer": _(SORRY)})
            return
        values = view.get("state", {}).get("values", {})
        text = str(values.get("answer", {}).get("text", {}).get("value") or "")
        event = surveys.SurveyAnswered(person, round_id, qid, text=text)
        try:
            result = await record(event, meta.get("c"), meta.get("t"))
        except Exception:
            log.exception("recording a survey answer failed")
            await ack(response_action="errors", errors={"answer": _(SORRY)})
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
        # person's id): the dispatcher reads them when it sends. It is drawn again in the
        # language of the person it was sent to, who answered it.
        data = {k: v for k, v in result.invite.items() if k != "answers"}
        if event.person.locale and not data.get("locale"):
            data["locale"] = event.person.locale
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

"""Slack listeners for the review queue (ask for review, approve, reject with a reason) and
for a giver taking their kudos back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.runtime import Runtime
from bot.slack import blocks as slack_render
from bot.slack.people import SlackPeople
from handlers import i18n, kudos, members, retraction, review
from handlers.events import Person
from handlers.i18n import N_, _

# Whole sentences per state, so a translation can agree with it.
_STATES = {
    "pending": N_("Review #{number}: pending."),
    "approved": N_("Review #{number}: approved."),
    "rejected": N_("Review #{number}: rejected."),
}
_STATE_ANYHOW = N_("Review #{number}: {status}.")

log = logging.getLogger("plaudit.slack")


def register(app: AsyncApp, runtime: Runtime, people: SlackPeople) -> None:
    policy = runtime.policy

    async def person(body: dict[str, Any]) -> Person:
        """Who clicked, as their member (created or linked on first sight) and carrying the
        member's email: reviewer rights never come from an address Slack reports for an
        identity that is not linked to a reviewer's member."""
        user = body.get("user") or {}
        team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        found = await people.get(team, str(user.get("id")))
        now = runtime.clock.now()
        return await runtime.run(lambda s: members.recognise(found, session=s, now=now))

    def answer(
        session: Session, result: review.ReviewResult, who: Person, body: dict[str, Any]
    ) -> review.ReviewResult:
        """Tell the person who clicked what happened, privately, in the same transaction."""
        text = (
            result.message
            if isinstance(result, review.NotAllowed)
            else _(
                _STATES.get(result.status, _STATE_ANYHOW),
                number=result.review_id,
                status=result.status,
            )
        )
        channel = (body.get("channel") or {}).get("id") or who.user_id
        key = (
            f"slack:action:{body.get('trigger_id') or body.get('container', {}).get('message_ts')}"
        )
        kudos.notify(session, key=key, person=who, channel_id=channel, text=text)
        return result

    async def act(
        body: dict[str, Any],
        step: Callable[[Session, Person, int], review.ReviewResult],
        target: int,
    ) -> None:
        """Run a review step for the person who clicked and answer them privately."""
        who = await person(body)
        with i18n.speaking(who.locale):
            await runtime.run(
                lambda session: answer(session, step(session, who, target), who, body)
            )
        runtime.poke()

    @app.action(slack_render.ASK_REVIEW)
    async def on_ask(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()

        def ask(session: Session, who: Person, recognition_id: int) -> review.ReviewResult:
            return review.ask(
                recognition_id, who, session=session, policy=policy, now=runtime.clock.now()
            )

        await act(body, ask, int(action.get("value") or 0))

    @app.action(slack_render.RETRACT)
    async def on_retract(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """The giver's "Take back" under their kudos' answer (or an admin's)."""
        await ack()
        who = await person(body)
        number = int(action.get("value") or 0)

        def work(session: Session) -> None:
            result = retraction.retract(
                number, who, session=session, policy=policy, clock=runtime.clock
            )
            text = (
                result.message
                if isinstance(result, retraction.NotRetracted)
                else _(
                    "Kudos #{number} taken back: its points are returned and its posts "
                    "and messages are being removed.",
                    number=number,
                )
            )
            channel = (body.get("channel") or {}).get("id") or who.user_id
            key = f"slack:retract:{number}:{body.get('trigger_id')}"
            kudos.notify(session, key=key, person=who, channel_id=channel, text=text)

        with i18n.speaking(who.locale):
            await runtime.run(work)
        runtime.poke()

    @app.action(slack_render.EDIT_KUDOS)
    async def on_edit(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        who = await person(body)
        recognition_id = int(action.get("value") or 0)
        found = await runtime.run(lambda session: kudos.draft(recognition_id, who, session=session))
        if found is None:
            return
        channel = (body.get("channel") or {}).get("id")
        with i18n.speaking(who.locale):
            form = slack_render.modal(
                policy,
                channel,
                users=tuple(p.user_id for p in found.recipients),
                text=found.text,
                value=found.value,
                private=found.private,
            )
        await client.views_open(trigger_id=body["trigger_id"], view=form)

    @app.action(slack_render.REVIEW_APPROVE)
    async def on_approve(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()

        def approve(session: Session, who: Person, review_id: int) -> review.ReviewResult:
            return review.decide(
                review_id,
                who,
                approve=True,
                reason=None,
                session=session,
                policy=policy,
                now=runtime.clock.now(),
            )

        await act(body, approve, int(action.get("value") or 0))

    @app.action(slack_render.REVIEW_REJECT)
    async def on_reject(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Ask a reviewer why; someone who may not decide is told so instead of a form."""
        await ack()
        who = await person(body)
        review_id = int(action.get("value") or 0)

        def check(session: Session) -> review.NotAllowed | None:
            refused = review.check_decider(review_id, who, session=session, policy=policy)
            if refused is not None:
                answer(session, refused, who, body)
            return refused

        with i18n.speaking(who.locale):
            if await runtime.run(check) is not None:
                runtime.poke()
                return
            form = slack_render.reject_modal(review_id)
        await client.views_open(trigger_id=body["trigger_id"], view=form)

    @app.view(slack_render.REJECT_MODAL)
    async def on_reject_reason(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        who = await person(body)
        reason = str(
            view.get("state", {}).get("values", {}).get("reason", {}).get("text", {}).get("value")
            or ""
        ).strip()
        review_id = int(view.get("private_metadata") or 0)
        with i18n.speaking(who.locale):
            result = await runtime.run(
                lambda session: review.decide(
                    review_id,
                    who,
                    approve=False,
                    reason=reason,
                    session=session,
                    policy=policy,
                    now=runtime.clock.now(),
                )
            )
        if isinstance(result, review.NotAllowed):
            # Shown under the reason; nothing was decided, and Cancel closes the form.
            await ack(response_action="errors", errors={"reason": result.message[:150]})
            return
        await ack()
        runtime.poke()

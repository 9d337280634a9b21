"""The Teams adapter: a botbuilder ActivityHandler that turns Teams activities into the same
neutral events the Slack adapter makes, and answers through the outbox.

Every botbuilder import lives in `bot/teams/`; the Bot Framework Python SDK is archived, and
a move to the Microsoft 365 Agents SDK (same activity protocol) touches only this folder.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import (
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    MessageReaction,
)
from msrest.exceptions import HttpOperationError
from sqlmodel import Session

from bot.chat import boards, screening, texts
from bot.chat.commands import Command, Routed, route
from bot.chat.mentions import parse
from bot.chat.ratelimit import too_fast
from bot.observability import metrics
from bot.runtime import Runtime
from bot.teams import activity as parsed
from bot.teams import forms, people, replies
from bot.teams import home as teams_home
from bot.teams import render as teams_render
from bot.teams.cards import MAX_TEXT, Cards
from handlers import home as home_case
from handlers import kudos, reactions
from handlers.clock import Clock
from handlers.events import CardReaction, KudosRequested, Person, ReactionRemoved
from handlers.policy import KudosPolicy
from storage import teams as store
from storage.teams import Conversation

log = logging.getLogger("plaudit.teams")
CONVERSATION = "plaudit.conversation"


class TeamsBot(TeamsActivityHandler):  # type: ignore[misc]
    """Plaudit in Teams: `@Plaudit kudos @name … #value`, the kudos card, reactions on
    kudos cards, `help`, `me`, `leaderboard`, and review decisions on cards."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.cards = Cards(runtime)

    # ----------------------------------------------------------------- every turn

    async def on_turn(self, turn_context: TurnContext) -> None:
        turn_context.turn_state[CONVERSATION] = await self._remember(turn_context)
        await super().on_turn(turn_context)

    async def _remember(self, turn_context: TurnContext) -> Conversation:
        """Store this conversation's reference, so the bot can write there later."""
        activity = turn_context.activity
        reference = TurnContext.get_conversation_reference(activity)
        reference.activity_id = None  # later messages start afresh, not as replies
        conversation = activity.conversation
        kind = str(conversation.conversation_type or "personal")
        tenant = conversation.tenant_id or parsed.tenant(activity.channel_data)
        sender = activity.from_property
        aad = getattr(sender, "aad_object_id", None) if kind == "personal" else None
        payload = reference.serialize()
        now = self.runtime.clock.now()
        row = await self.runtime.run(
            lambda s: store.save_conversation(
                session=s,
                conversation_id=str(conversation.id),
                kind=kind,
                tenant_id=tenant,
                service_url=str(activity.service_url),
                aad_id=aad,
                reference=payload,
                now=now,
            )
        )
        return Conversation(
            row, str(conversation.id), kind, tenant, str(activity.service_url), aad, payload
        )

    # ----------------------------------------------------------------- messages

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        conv: Conversation = turn_context.turn_state[CONVERSATION]
        wait = self.runtime.limiter.wait(
            "teams", conv.tenant_id or "", str(activity.from_property.id)
        )
        if wait:
            typed = _typed(activity.value) if isinstance(activity.value, dict) else ("", False)
            text = "\n".join(t for t in (parsed.without_bot(activity), typed[0]) if t.strip())
            note = await self._screened(turn_context, conv, text, anonymous=typed[1])
            await self._reply(conv, f"{activity.id}:too_fast", text=too_fast(wait) + note)
            return
        text = parsed.without_bot(activity)
        if isinstance(activity.value, dict) and not text.strip():
            # Action.Submit from a client without Universal Actions. Its answer (findings and
            # all) is for the person who pressed: in a shared conversation, their 1:1 chat.
            person = await people.sender(self.runtime, turn_context, conv)
            card = await self.cards.act(turn_context, conv, dict(activity.value), person=person)
            await self._reply(conv, f"{activity.id}:submit", card=card, private_to=person)
            return
        routed = route(parsed.plain(text), keyword=True)
        try:
            await self._command(turn_context, conv, routed, text)
        except HttpOperationError as exc:
            log.warning("Teams connector error while handling a message: %s", exc)
            await self._reply(conv, f"{activity.id}:sorry", text=replies.SORRY)

    async def _command(
        self, turn_context: TurnContext, conv: Conversation, routed: Routed, text: str
    ) -> None:
        activity_id = turn_context.activity.id
        policy = self.runtime.policy
        if routed.command in (Command.HELP, Command.UNKNOWN):
            head = "I didn't catch that." if routed.command is Command.UNKNOWN else ""
            help_card = teams_render.help_card(policy, head=head)
            await self._reply(conv, f"{activity_id}:help", card=help_card)
            return
        giver = await people.sender(self.runtime, turn_context, conv)
        if routed.command is Command.ME:
            found = await self.runtime.run(
                lambda s: home_case.home(giver, session=s, policy=policy, clock=self.runtime.clock)
            )
            answer = teams_home.home_card(found, self.runtime.dashboard_url)
            await self._reply(conv, f"{activity_id}:me", card=answer, private_to=giver)
        elif routed.command is Command.LEADERBOARD:
            board = await boards.query(self.runtime, list(routed.args), command="@Plaudit")
            shown = (
                texts.words(board)
                if isinstance(board, str)
                else texts.board(board[1], title=board[0])
            )
            await self._reply(
                conv, f"{activity_id}:leaderboard", card=teams_render.text_card(shown)
            )
        else:
            await self._kudos_command(turn_context, conv, giver, text)

    async def _kudos_command(
        self, turn_context: TurnContext, conv: Conversation, giver: Person, text: str
    ) -> None:
        activity = turn_context.activity
        body = re.sub(r"^\s*kudos\b", "", text, count=1, flags=re.IGNORECASE)
        if not parsed.plain(body).strip():
            form = forms.kudos_form(self.runtime.policy)
            await self._reply(conv, f"{activity.id}:form", card=form)
            return
        if len(body) > MAX_TEXT:
            note = await self._screened(turn_context, conv, body, reporter=giver)
            await self._reply(
                conv,
                f"{activity.id}:too_long",
                text=f"That kudos is too long; please keep it under {MAX_TEXT} characters.{note}",
            )
            return
        tokens, mentioned = parsed.as_command_text(body, parsed.mentions(activity))
        words = parse(tokens, self.runtime.policy.values)
        accounts = await people.accounts(self.runtime, turn_context, list(mentioned))
        tenant = conv.tenant_id
        recipients = tuple(
            parsed.person(accounts[m], tenant, served=self.runtime.teams_tenants)
            if m in accounts
            else Person("teams", tenant, m, mentioned.get(m, m), exists=False)
            for m in words.user_ids
        )
        # A shared channel (people of other organisations read it) gets no public card.
        shared = (
            parsed.shared_channel(activity.channel_data) and not self.runtime.policy.allow_guests
        )
        event = KudosRequested(
            key=f"teams:{conv.row}:{activity.id}",
            giver=giver,
            recipients=recipients,
            message=words.message,
            values=words.values,
            source="command",
            channel_id=None if conv.kind == "personal" or shared else conv.channel,
            non_people=words.groups,
        )
        await self._give(conv, event, reply_key=str(activity.id), shared=shared)

    async def _give(
        self, conv: Conversation, event: KudosRequested, *, reply_key: str, shared: bool = False
    ) -> None:
        """Give the kudos and answer; in a channel shared with another organisation nothing
        is posted (`shared`): the giver hears privately, the recipients by direct message."""
        runtime = self.runtime

        def work(session: Session) -> kudos.KudosResult:
            result = kudos.give(
                event,
                session=session,
                policy=runtime.policy,
                clock=runtime.clock,
                rules=runtime.rules,
            )
            replies.answer(session, conv, event.giver, result, reply_key, shared=shared)
            return result

        metrics.count_kudos(await runtime.run(work))
        runtime.poke()

    async def _screened(
        self,
        turn_context: TurnContext,
        conv: Conversation,
        text: str,
        *,
        reporter: Person | None = None,
        anonymous: bool = False,
    ) -> str:
        """The sentence to add to a refusal when its text went to drug safety, else ""."""
        sender = turn_context.activity.from_property
        name = str(sender.name or sender.id)
        fallback = Person("teams", conv.tenant_id, str(sender.id), name, exists=False)
        return await screening.screen(
            self.runtime,
            text,
            key=f"teams:{conv.row}:{turn_context.activity.id}",
            reporter=None
            if anonymous
            else reporter or (lambda: people.sender(self.runtime, turn_context, conv)),
            fallback=fallback,
            source="survey" if anonymous else "kudos",
        )

    async def _reply(
        self,
        conv: Conversation,
        key: str,
        *,
        text: str | None = None,
        card: dict[str, Any] | None = None,
        private_to: Person | None = None,
    ) -> None:
        await replies.reply(self.runtime, conv, key, text=text, card=card, private_to=private_to)

    # ----------------------------------------------------------------- cards

    async def on_adaptive_card_invoke(
        self, turn_context: TurnContext, invoke_value: AdaptiveCardInvokeValue
    ) -> AdaptiveCardInvokeResponse:
        conv: Conversation = turn_context.turn_state[CONVERSATION]
        sender = str(turn_context.activity.from_property.id)
        raw: Any = turn_context.activity.value
        action: Any = raw.get("action") if isinstance(raw, dict) else None
        action = action if isinstance(action, dict) else {}
        data: dict[str, Any] = dict(action["data"]) if isinstance(action.get("data"), dict) else {}
        data["verb"] = action.get("verb") or data.get("verb")
        wait = self.runtime.limiter.wait("teams", conv.tenant_id or "", sender)
        if wait:
            text, anonymous = _typed(data)
            note = await self._screened(turn_context, conv, text, anonymous=anonymous)
            card = teams_render.decided_card(too_fast(wait) + note)
            return AdaptiveCardInvokeResponse(status_code=200, type=teams_render.CARD, value=card)
        try:
            card = await self.cards.act(turn_context, conv, data)
        except HttpOperationError as exc:
            log.warning("Teams connector error during a card action: %s", exc)
            card = teams_render.decided_card(replies.SORRY)
        return AdaptiveCardInvokeResponse(status_code=200, type=teams_render.CARD, value=card)

    # ----------------------------------------------------------------- reactions

    async def on_reactions_added(
        self, message_reactions: list[MessageReaction], turn_context: TurnContext
    ) -> None:
        await self._reactions(message_reactions, turn_context, added=True)

    async def on_reactions_removed(
        self, message_reactions: list[MessageReaction], turn_context: TurnContext
    ) -> None:
        await self._reactions(message_reactions, turn_context, added=False)

    async def _reactions(
        self,
        message_reactions: Sequence[MessageReaction],
        turn_context: TurnContext,
        *,
        added: bool,
    ) -> None:
        activity = turn_context.activity
        conv: Conversation = turn_context.turn_state[CONVERSATION]
        allowed = self.runtime.policy.teams_reactions
        kinds = [str(r.type) for r in message_reactions if str(r.type) in allowed]
        if not kinds or not activity.reply_to_id:
            return
        reactor = await people.sender(self.runtime, turn_context, conv)
        policy, clock = self.runtime.policy, self.runtime.clock
        message = str(activity.reply_to_id)
        for kind in kinds:
            key = f"teams:{conv.row}:{activity.id}:{'add' if added else 'remove'}:{kind}"
            if added:
                seconded = CardReaction(key, reactor, kind, conv.channel, message)
                await self.runtime.run(_in_session(reactions.second, seconded, policy, clock))
            else:
                gone = ReactionRemoved(key, reactor, kind, conv.channel, message)
                await self.runtime.run(_in_session(reactions.unreact, gone, policy, clock))
        self.runtime.poke()

    # ----------------------------------------------------------------- installs

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._welcome(turn_context)

    async def on_teams_members_added(
        self,
        teams_members_added: list[Any],
        team_info: Any,
        turn_context: TurnContext,
    ) -> None:
        bot_id = turn_context.activity.recipient.id
        if any(m.id == bot_id for m in teams_members_added):
            await self._welcome(turn_context)

    async def _welcome(self, turn_context: TurnContext) -> None:
        conv: Conversation = turn_context.turn_state[CONVERSATION]
        if conv.kind != "personal":
            return  # a channel does not need an introduction each time the app is added
        welcome = teams_render.help_card(self.runtime.policy, head="👋 Hi, I'm Plaudit.")
        await self._reply(conv, "welcome", card=welcome)


def _typed(data: dict[str, Any]) -> tuple[str, bool]:
    """What a person typed into a card (a kudos message, a reason, survey answers), and
    whether it answers a survey: screened without their name, as the survey may be anonymous."""
    typed = [
        str(v)
        for k, v in data.items()
        if isinstance(v, str) and (k in ("message", "reason") or k.startswith("q_"))
    ]
    return "\n".join(typed), str(data.get("verb") or "") == teams_render.SURVEY_ANSWER


def _in_session(
    use_case: Callable[..., reactions.ReactionResult],
    event: Any,
    policy: KudosPolicy,
    clock: Clock,
) -> Callable[[Session], reactions.ReactionResult]:
    def work(session: Session) -> reactions.ReactionResult:
        return use_case(event, session=session, policy=policy, clock=clock)

    return work

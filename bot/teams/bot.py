"""The Teams adapter: routes each delivered activity (its wire JSON, whichever SDK carried
it) to what Plaudit does with it, turning Teams activities into the same neutral events the
Slack adapter makes, and answers through the outbox, in the sender's language; an invoke's
answer is returned."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from bot.chat import boards, screening, texts
from bot.chat.commands import Command, Routed, private, route
from bot.chat.mentions import parse
from bot.chat.ratelimit import too_fast
from bot.observability import metrics
from bot.runtime import Runtime
from bot.teams import activity as parsed
from bot.teams import answers, extension, forms, people, replies
from bot.teams import home as teams_home
from bot.teams import render as teams_render
from bot.teams.cards import MAX_TEXT, Cards
from bot.teams.sdk import ConnectorError, Lookup, Transport, Unreachable
from bot.teams.turn import Turn
from handlers import home as home_case
from handlers import i18n, kudos, reactions
from handlers.clock import Clock
from handlers.events import CardReaction, KudosRequested, Person, ReactionRemoved
from handlers.i18n import _
from handlers.policy import KudosPolicy
from storage import teams as store
from storage.teams import Conversation

log = logging.getLogger("plaudit.teams")
CARD_ACTION = "adaptiveCard/action"
ERROR = "application/vnd.microsoft.error"
# An invoke's answer: the HTTP status and JSON body the channel receives.
Answer = tuple[int, Any]


class TeamsBot:
    """Plaudit in Teams: `@Plaudit kudos @name … #value`, the kudos card, reactions on
    kudos cards, `help`, `me`, `leaderboard`, and review decisions on cards."""

    def __init__(self, runtime: Runtime, transport: Transport) -> None:
        self.runtime = runtime
        self.transport = transport
        self.cards = Cards(runtime)

    # ----------------------------------------------------------------- every turn

    async def on_turn(self, data: dict[str, Any], lookup: Lookup) -> Answer | None:
        """Handle one activity; the answer to an invoke, else None. What it says to the
        sender (answers, cards, forms) is in the language of the locale their client
        reports."""
        with i18n.speaking(parsed.client_locale(data)):
            return await self._turn(data, lookup)

    async def _turn(self, data: dict[str, Any], lookup: Lookup) -> Answer | None:
        turn = Turn(data, lookup, await self._remember(data))
        kind = data.get("type")
        if kind == "message":
            await self.on_message(turn)
        elif kind == "invoke":
            return await self.on_invoke(turn)
        elif kind == "messageReaction":
            await self._reactions(turn, data.get("reactionsAdded"), added=True)
            await self._reactions(turn, data.get("reactionsRemoved"), added=False)
        elif self._installed(data):
            await self._welcome(turn)
        return None

    async def _remember(self, data: dict[str, Any]) -> Conversation:
        """Store this conversation's reference, so the bot can write there later."""
        conversation = parsed.conversation(data)
        kind = str(conversation.get("conversationType") or "personal")
        tenant = conversation.get("tenantId") or parsed.tenant(data.get("channelData"))
        sender = parsed.sender(data)
        aad = sender.get("aadObjectId") if kind == "personal" else None
        payload = self.transport.reference(data)
        service_url = str(data.get("serviceUrl"))
        now = self.runtime.clock.now()
        row = await self.runtime.run(
            lambda s: store.save_conversation(
                session=s,
                conversation_id=str(conversation.get("id")),
                kind=kind,
                tenant_id=tenant,
                service_url=service_url,
                aad_id=aad,
                reference=payload,
                now=now,
            )
        )
        return Conversation(
            row, str(conversation.get("id")), kind, tenant, service_url, aad, payload
        )

    @staticmethod
    def _installed(data: dict[str, Any]) -> bool:
        """Whether the activity says the app was just added (installed, or the bot added
        to a conversation's members)."""
        if data.get("type") == "installationUpdate":
            return data.get("action") in ("add", "add-upgrade")
        added = data.get("membersAdded") if data.get("type") == "conversationUpdate" else None
        bot_id = parsed.recipient_id(data)
        return isinstance(added, list) and any(
            isinstance(m, dict) and m.get("id") == bot_id for m in added
        )

    # ----------------------------------------------------------------- messages

    async def on_message(self, turn: Turn) -> None:
        conv = turn.conv
        value = turn.value
        wait = self.runtime.limiter.wait("teams", conv.tenant_id or "", turn.sender_id)
        if wait:
            typed = _typed(value) if isinstance(value, dict) else ("", False)
            text = "\n".join(t for t in (parsed.without_bot(turn.data), typed[0]) if t.strip())
            note = await self._screened(turn, text, anonymous=typed[1])
            await self._reply(conv, f"{turn.id}:too_fast", text=too_fast(wait) + note)
            return
        text = parsed.without_bot(turn.data)
        if isinstance(value, dict) and not text.strip():
            # Action.Submit from a client without Universal Actions. Its answer (findings and
            # all) is for the person who pressed: in a shared conversation, their 1:1 chat.
            person = await people.sender(self.runtime, turn)
            card = await self.cards.act(turn, dict(value), person=person)
            await self._reply(conv, f"{turn.id}:submit", card=card, private_to=person)
            return
        routed = route(parsed.plain(text), keyword=True)
        try:
            await self._command(turn, routed, text)
        except (ConnectorError, Unreachable) as exc:
            log.warning("Teams connector error while handling a message: %s", exc)
            await self._reply(conv, f"{turn.id}:sorry", text=replies.sorry())

    async def _command(self, turn: Turn, routed: Routed, text: str) -> None:
        activity_id, conv = turn.id, turn.conv
        policy = self.runtime.policy
        if routed.command in (Command.HELP, Command.UNKNOWN):
            head = _("I didn't catch that.") if routed.command is Command.UNKNOWN else ""
            help_card = answers.help_card(policy, head=head)
            await self._reply(conv, f"{activity_id}:help", card=help_card)
            return
        giver = await people.sender(self.runtime, turn)
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
            await self._kudos_command(turn, giver, text)

    async def _kudos_command(self, turn: Turn, giver: Person, text: str) -> None:
        conv = turn.conv
        body = re.sub(r"^\s*kudos\b", "", text, count=1, flags=re.IGNORECASE)
        hidden, body = private(body)
        if not parsed.plain(body).strip():
            form = forms.kudos_form(self.runtime.policy, private=hidden)
            await self._reply(conv, f"{turn.id}:form", card=form)
            return
        if len(body) > MAX_TEXT:
            note = await self._screened(turn, body, reporter=giver)
            too_long = _(
                "That kudos is too long; please keep it under {limit} characters.", limit=MAX_TEXT
            )
            await self._reply(conv, f"{turn.id}:too_long", text=too_long + note)
            return
        tokens, mentioned = parsed.as_command_text(body, parsed.mentions(turn.data))
        words = parse(tokens, self.runtime.policy.values)
        accounts = await people.accounts(self.runtime, turn, list(mentioned))
        tenant = conv.tenant_id
        recipients = tuple(
            parsed.person(accounts[m], tenant, served=self.runtime.teams_tenants)
            if m in accounts
            else Person("teams", tenant, m, mentioned.get(m, m), exists=False)
            for m in words.user_ids
        )
        # A shared channel (people of other organisations read it) gets no public card.
        shared = parsed.shared_channel(turn.channel_data) and not self.runtime.policy.allow_guests
        event = KudosRequested(
            key=f"teams:{conv.row}:{turn.id}",
            giver=giver,
            recipients=recipients,
            message=words.message,
            values=words.values,
            source="command",
            channel_id=None if conv.kind == "personal" or shared else conv.channel,
            non_people=words.groups,
            private=hidden,
        )
        await self._give(conv, event, reply_key=turn.id, shared=shared)

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
        turn: Turn,
        text: str,
        *,
        reporter: Person | None = None,
        anonymous: bool = False,
    ) -> str:
        """The sentence to add to a refusal when its text went to drug safety, else ""."""
        conv = turn.conv
        fallback = Person(
            "teams",
            conv.tenant_id,
            turn.sender_id,
            turn.sender_name,
            exists=False,
            locale=turn.locale,
        )
        return await screening.screen(
            self.runtime,
            text,
            key=f"teams:{conv.row}:{turn.id}",
            reporter=None if anonymous else reporter or (lambda: people.sender(self.runtime, turn)),
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

    async def on_invoke(self, turn: Turn) -> Answer:
        """A card's Action.Execute (`adaptiveCard/action`): the card that replaces the one
        pressed. Other invokes are not implemented (501), as the Bot Framework answers."""
        if turn.data.get("name") in extension.NAMES:
            return await extension.answer(self.cards, turn)
        if turn.data.get("name") != CARD_ACTION:
            return 501, None
        raw: Any = turn.value
        action: Any = raw.get("action") if isinstance(raw, dict) else None
        if not isinstance(action, dict) or action.get("type") != "Action.Execute":
            problem = "an adaptiveCard/action invoke needs an Action.Execute action"
            return 400, _error("BadRequest", problem)
        data: dict[str, Any] = dict(action["data"]) if isinstance(action.get("data"), dict) else {}
        data["verb"] = action.get("verb") or data.get("verb")
        wait = self.runtime.limiter.wait("teams", turn.conv.tenant_id or "", turn.sender_id)
        if wait:
            text, anonymous = _typed(data)
            note = await self._screened(turn, text, anonymous=anonymous)
            return 200, _card(teams_render.decided_card(too_fast(wait) + note))
        try:
            card = await self.cards.act(turn, data)
        except (ConnectorError, Unreachable) as exc:
            log.warning("Teams connector error during a card action: %s", exc)
            card = teams_render.decided_card(replies.sorry())
        return 200, _card(card)

    # ----------------------------------------------------------------- reactions

    async def _reactions(self, turn: Turn, found: Any, *, added: bool) -> None:
        conv = turn.conv
        allowed = self.runtime.policy.teams_reactions
        listed = found if isinstance(found, list) else []
        kinds = [str(r.get("type")) for r in listed if isinstance(r, dict)]
        kinds = [k for k in kinds if k in allowed]
        if not kinds or not turn.reply_to_id:
            return
        reactor = await people.sender(self.runtime, turn)
        policy, clock = self.runtime.policy, self.runtime.clock
        message = turn.reply_to_id
        for kind in kinds:
            key = f"teams:{conv.row}:{turn.id}:{'add' if added else 'remove'}:{kind}"
            if added:
                seconded = CardReaction(key, reactor, kind, conv.channel, message)
                await self.runtime.run(_in_session(reactions.second, seconded, policy, clock))
            else:
                gone = ReactionRemoved(key, reactor, kind, conv.channel, message)
                await self.runtime.run(_in_session(reactions.unreact, gone, policy, clock))
        self.runtime.poke()

    # ----------------------------------------------------------------- installs

    async def _welcome(self, turn: Turn) -> None:
        conv = turn.conv
        if conv.kind != "personal":
            return  # a channel does not need an introduction each time the app is added
        welcome = answers.help_card(self.runtime.policy, head="👋 " + _("Hi, I'm Plaudit."))
        await self._reply(conv, "welcome", card=welcome)


def _card(card: dict[str, Any]) -> dict[str, Any]:
    """An adaptive card invoke response whose card replaces the one pressed."""
    return {"statusCode": 200, "type": teams_render.CARD, "value": card}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"statusCode": 400, "type": ERROR, "value": {"code": code, "message": message}}


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

"""The Teams adapter: a botbuilder ActivityHandler that turns Teams activities into the same
neutral events the Slack adapter makes, and answers through the outbox.

Every botbuilder import lives in `bot/teams*.py`; the Bot Framework Python SDK is archived,
and a move to the Microsoft 365 Agents SDK (same activity protocol) touches only these files.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.schema import (
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    ChannelAccount,
    MessageReaction,
)
from msrest.exceptions import HttpOperationError
from sqlmodel import Session

from bot.chat import boards, texts
from bot.chat.mentions import parse
from bot.chat.ratelimit import too_fast
from bot.observability import metrics
from bot.runtime import Runtime
from bot.teams import render as teams_render
from handlers import kudos, reactions, review, stats, surveys
from handlers.clock import Clock
from handlers.events import CardReaction, KudosRequested, Person, ReactionRemoved
from handlers.policy import KudosPolicy
from storage import queries
from storage import teams as store
from storage.teams import Account, Conversation

log = logging.getLogger("plaudit.teams")
CONVERSATION = "plaudit.conversation"
MAX_TEXT = 4000
_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
SORRY = "⚠️ Something went wrong on our side and nothing was recorded. Please try again."


class TeamsBot(TeamsActivityHandler):  # type: ignore[misc]
    """Plaudit in Teams: `@Plaudit kudos @name … #value`, the kudos card, reactions on
    kudos cards, `help`, `me`, `leaderboard`, and review decisions on cards."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

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
        tenant = conversation.tenant_id or _tenant(activity.channel_data)
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
        sender = activity.from_property
        wait = self.runtime.limiter.wait("teams", conv.tenant_id or "", str(sender.id))
        if wait:
            await self._reply(conv, f"{activity.id}:too_fast", text=too_fast(wait))
            return
        text = _without_bot(activity)
        if isinstance(activity.value, dict) and not text.strip():
            # Action.Submit from a client without Universal Actions.
            card = await self._card_action(turn_context, activity.value)
            await self._reply(conv, f"{activity.id}:submit", card=card)
            return
        words = _plain(text).split()
        subcommands = ("help", "?", "me", "leaderboard")
        if len(words) >= 2 and words[0].lower() == "kudos" and words[1].lower() in subcommands:
            words = words[1:]  # "kudos me", as in Slack's "/kudos me"
        command = words[0].lower() if words else ""
        policy = self.runtime.policy
        try:
            if command in ("", "help", "?") or command not in ("kudos", "me", "leaderboard"):
                head = "" if command in ("", "help", "?") else "I didn't catch that. "
                await self._reply(
                    conv, f"{activity.id}:help", text=head + teams_render.help_text(policy)
                )
                return
            giver = await self._sender(turn_context)
            if command == "me":
                summary = await self.runtime.run(
                    lambda s: stats.me(giver, session=s, policy=policy, clock=self.runtime.clock)
                )
                answer = teams_render.markdown(
                    texts.me(
                        summary.received, summary.given, summary.allowance_left, summary.allowance
                    )
                )
                await self._reply(conv, f"{activity.id}:me", text=answer, private_to=giver)
                return
            if command == "leaderboard":
                board = await boards.query(self.runtime, words[1:], command="@Plaudit")
                if isinstance(board, str):
                    answer = teams_render.markdown(texts.words(board))
                else:
                    title, data = board
                    answer = teams_render.markdown(texts.board(data, title=title))
                await self._reply(conv, f"{activity.id}:leaderboard", text=answer)
                return
            await self._kudos_command(turn_context, conv, giver, text)
        except HttpOperationError as exc:
            log.warning("Teams connector error while handling a message: %s", exc)
            await self._reply(conv, f"{activity.id}:sorry", text=SORRY)

    async def _kudos_command(
        self, turn_context: TurnContext, conv: Conversation, giver: Person, text: str
    ) -> None:
        activity = turn_context.activity
        body = re.sub(r"^\s*kudos\b", "", text, count=1, flags=re.IGNORECASE)
        if not _plain(body).strip():
            form = teams_render.kudos_form(self.runtime.policy)
            await self._reply(conv, f"{activity.id}:form", card=form)
            return
        if len(body) > MAX_TEXT:
            await self._reply(
                conv,
                f"{activity.id}:too_long",
                text=f"That kudos is too long; please keep it under {MAX_TEXT} characters.",
            )
            return
        slack_like, mentioned = _as_command_text(body, _mentions(activity))
        parsed = parse(slack_like, self.runtime.policy.values)
        accounts = await self._accounts(turn_context, list(mentioned))
        tenant = conv.tenant_id
        recipients = tuple(
            _person(accounts[m], tenant)
            if m in accounts
            else Person("teams", tenant, m, mentioned.get(m, m), exists=False)
            for m in parsed.user_ids
        )
        event = KudosRequested(
            key=f"teams:{conv.row}:{activity.id}",
            giver=giver,
            recipients=recipients,
            message=html.unescape(parsed.message),
            values=parsed.values,
            source="command",
            channel_id=None if conv.kind == "personal" else conv.channel,
            non_people=parsed.groups,
        )
        await self._give(conv, event, reply_key=str(activity.id))

    async def _give(self, conv: Conversation, event: KudosRequested, *, reply_key: str) -> None:
        runtime = self.runtime

        def work(session: Session) -> kudos.KudosResult:
            result = kudos.give(
                event,
                session=session,
                policy=runtime.policy,
                clock=runtime.clock,
                rules=runtime.rules,
            )
            self._answer(session, conv, event.giver, result, reply_key)
            return result

        metrics.count_kudos(await runtime.run(work))
        runtime.poke()

    def _answer(
        self,
        session: Session,
        conv: Conversation,
        giver: Person,
        result: kudos.KudosResult,
        reply_key: str,
    ) -> None:
        """Tell the giver how it went. Findings never go to a shared conversation: there
        the thread hears only that the details went to the giver privately."""
        if isinstance(result, kudos.Duplicate):
            return
        card = teams_render.answer_card(result)
        if conv.kind == "personal" or isinstance(result, kudos.Refused):
            _enqueue(session, conv.channel, f"teams:{conv.row}:{reply_key}:answer", card=card)
            return
        if isinstance(result, kudos.Stopped):
            _enqueue(
                session,
                conv.channel,
                f"teams:{conv.row}:{reply_key}:answer",
                text="I didn't publish that kudos; I've sent you the details in a private chat.",
            )
        if isinstance(result, kudos.Stopped) or result.warnings:
            _enqueue(
                session,
                giver.user_id,
                f"teams:{conv.row}:{reply_key}:private",
                card=card,
                kind="dm",
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
        """Queue an answer in this conversation (or the person's 1:1 chat when it is about
        them and the conversation is shared)."""
        channel, kind = conv.channel, "post"
        if private_to is not None and conv.kind != "personal":
            channel, kind = private_to.user_id, "dm"
        full_key = f"teams:{conv.row}:{key}"
        await self.runtime.run(
            lambda s: _enqueue(s, channel, full_key, text=text, card=card, kind=kind)
        )
        self.runtime.poke()

    # ----------------------------------------------------------------- cards

    async def on_adaptive_card_invoke(
        self, turn_context: TurnContext, invoke_value: AdaptiveCardInvokeValue
    ) -> AdaptiveCardInvokeResponse:
        conv: Conversation = turn_context.turn_state[CONVERSATION]
        sender = str(turn_context.activity.from_property.id)
        wait = self.runtime.limiter.wait("teams", conv.tenant_id or "", sender)
        if wait:
            card = teams_render.decided_card(too_fast(wait))
            return AdaptiveCardInvokeResponse(status_code=200, type=teams_render.CARD, value=card)
        raw: Any = turn_context.activity.value
        action: Any = raw.get("action") if isinstance(raw, dict) else None
        action = action if isinstance(action, dict) else {}
        data: dict[str, Any] = dict(action["data"]) if isinstance(action.get("data"), dict) else {}
        data["verb"] = action.get("verb") or data.get("verb")
        try:
            card = await self._card_action(turn_context, data)
        except HttpOperationError as exc:
            log.warning("Teams connector error during a card action: %s", exc)
            card = teams_render.decided_card(SORRY)
        return AdaptiveCardInvokeResponse(status_code=200, type=teams_render.CARD, value=card)

    async def _card_action(self, turn_context: TurnContext, data: dict[str, Any]) -> dict[str, Any]:
        """Run a card's verb; the answer is the card that replaces it."""
        verb = str(data.get("verb") or "")
        conv: Conversation = turn_context.turn_state[CONVERSATION]
        activity = turn_context.activity
        policy = self.runtime.policy
        giver = await self._sender(turn_context)
        now = self.runtime.clock.now()
        if verb == teams_render.GIVE:
            return await self._card_kudos(turn_context, conv, giver, data)
        if verb == teams_render.SURVEY_ANSWER:
            return await self._survey_answer(giver, data)
        number = _number(data.get("recognition_id") or data.get("review_id"))
        if number is None:
            return teams_render.decided_card("That card is out of date; please start again.")
        if verb == teams_render.EDIT:
            draft = await self.runtime.run(lambda s: kudos.draft(number, giver, session=s))
            if draft is None:
                return teams_render.decided_card("That kudos is not yours to edit.")
            return teams_render.kudos_form(
                policy,
                # AAD object ids: the people picker's values.
                recipients=tuple(p.user_id for p in draft.recipients),
                message=draft.text,
                value=draft.value,
            )
        if verb == teams_render.ASK_REVIEW:

            def ask(session: Session) -> review.ReviewResult:
                return review.ask(number, giver, session=session, policy=policy, now=now)

            outcome = await self.runtime.run(ask)
            self.runtime.poke()
            if isinstance(outcome, review.NotAllowed):
                return teams_render.decided_card(outcome.message)
            return teams_render.decided_card(
                f"⏳ Sent to compliance review (#{outcome.review_id}). You'll hear back here."
            )
        if verb in (teams_render.APPROVE, teams_render.REJECT):
            approve = verb == teams_render.APPROVE
            reason = str(data.get("reason") or "").strip() or None

            def decide(session: Session) -> review.ReviewResult:
                return review.decide(
                    number,
                    giver,
                    approve=approve,
                    reason=reason,
                    session=session,
                    policy=policy,
                    now=now,
                )

            outcome = await self.runtime.run(decide)
            self.runtime.poke()
            if isinstance(outcome, review.NotAllowed):
                return teams_render.decided_card(outcome.message)
            word = "approved" if approve else f"rejected: {reason}"
            return teams_render.decided_card(
                f"Review #{outcome.review_id} {word} by {giver.display_name}."
            )
        log.info("unknown card verb %r in activity %s", verb, activity.id)
        return teams_render.decided_card("That card is out of date; please start again.")

    async def _card_kudos(
        self,
        turn_context: TurnContext,
        conv: Conversation,
        giver: Person,
        data: dict[str, Any],
    ) -> dict[str, Any]:
        policy = self.runtime.policy
        chosen = tuple(
            dict.fromkeys(p.strip() for p in str(data.get("recipients") or "").split(",") if p)
        )
        value = str(data.get("value") or "").strip() or None
        message = str(data.get("message") or "").strip()
        if len(message) > MAX_TEXT:
            return teams_render.kudos_form(
                policy,
                recipients=chosen,
                message=message[:MAX_TEXT],
                error="Please keep it shorter.",
            )
        found = await self._accounts(turn_context, list(chosen), by_aad=True)
        recipients = tuple(
            _person(found[a], conv.tenant_id)
            if a in found
            else Person("teams", conv.tenant_id, a, a, exists=False)
            for a in chosen
        )
        activity = turn_context.activity
        event = KudosRequested(
            key=f"teams:{conv.row}:{activity.id}",
            giver=giver,
            recipients=recipients,
            message=f"{message} {value}".strip() if value else message,
            values=(value,) if value else (),
            source="modal",
            channel_id=None if conv.kind == "personal" else conv.channel,
        )
        runtime = self.runtime

        # The card that answers an Action.Execute is shown to the giver alone, so findings
        # can go there even in a channel.
        result = await runtime.run(
            lambda session: kudos.give(
                event, session=session, policy=policy, clock=runtime.clock, rules=runtime.rules
            )
        )
        metrics.count_kudos(result)
        runtime.poke()
        if isinstance(result, kudos.Refused):
            return teams_render.kudos_form(
                policy, recipients=chosen, message=message, value=value, error=result.message
            )
        return teams_render.answer_card(result)

    async def _survey_answer(self, person: Person, data: dict[str, Any]) -> dict[str, Any]:
        """Record every answered question of a survey card; the card comes back with the
        answers as saved (and why any was not)."""
        round_id = _number(data.get("round_id"))
        if round_id is None:
            return teams_render.decided_card("That survey card is out of date.")
        runtime = self.runtime
        now = runtime.clock.now()

        def work(session: Session) -> tuple[dict[str, Any] | None, list[str], bool]:
            current = surveys.invite_for(session, round_id, person)
            if current is None:
                return None, ["This survey was not sent to you, so it cannot be answered."], False
            problems: list[str] = []
            saved = 0
            for q in current["questions"]:
                raw = str(data.get(f"q_{q['id']}") or "").strip()
                if not raw:
                    continue
                event = surveys.SurveyAnswered(
                    person=person,
                    round_id=round_id,
                    question_id=str(q["id"]),
                    score=_number(raw) if q["type"] in ("scale", "enps") else None,
                    choices=tuple(c for c in raw.split(",") if c) if q["type"] == "choice" else (),
                    text=raw if q["type"] == "text" else None,
                )
                outcome = surveys.answer(
                    event, session=session, now=now, rules=runtime.rules, policy=runtime.policy
                )
                if isinstance(outcome, surveys.AnswerRefused):
                    if outcome.reason == "closed":
                        return current, [outcome.message.replace("*", "")], True
                    problems.append(f"{q['text']}: {outcome.message}")
                    continue
                saved += 1
                current = outcome.invite
                if outcome.note:
                    problems.append(outcome.note)
            if not saved and not problems:
                problems.append("Please answer at least one question.")
            return current, problems, False

        current, problems, closed = await runtime.run(work)
        runtime.poke()
        if current is None:
            return teams_render.decided_card(problems[0])
        note = " ".join(problems) if problems else "✅ Thank you: your answers are saved."
        return teams_render.survey_card(current, note=note, closed=closed)

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
        reactor = await self._sender(turn_context)
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
        text = "👋 Hi, I'm Plaudit.\n\n" + teams_render.help_text(self.runtime.policy)
        await self._reply(conv, "welcome", text=text)

    # ----------------------------------------------------------------- people

    async def _sender(self, turn_context: TurnContext) -> Person:
        sender: ChannelAccount = turn_context.activity.from_property
        conv: Conversation = turn_context.turn_state[CONVERSATION]
        found = await self._accounts(turn_context, [str(sender.id)])
        tz = turn_context.activity.local_timezone or _client_timezone(turn_context.activity)
        account = found.get(str(sender.id))
        if account is None:
            aad = getattr(sender, "aad_object_id", None) or str(sender.id)
            account = Account(str(sender.id), aad, conv.tenant_id, str(sender.name or aad), None)
        return _person(account, conv.tenant_id, timezone=tz)

    async def _accounts(
        self, turn_context: TurnContext, ids: list[str], *, by_aad: bool = False
    ) -> dict[str, Account]:
        """Accounts for 29:... ids (or AAD object ids), from the database or the connector."""
        if not ids:
            return {}
        lookup: Callable[[Session], dict[str, Account]] = (
            (lambda s: store.accounts_by_aad(session=s, aad_ids=ids))
            if by_aad
            else (lambda s: store.accounts(session=s, user_ids=ids))
        )
        known = await self.runtime.run(lookup)
        fresh: list[Account] = []
        for member_id in ids:
            if member_id in known:
                continue
            try:
                member = await TeamsInfo.get_member(turn_context, member_id)
            except HttpOperationError as exc:
                status = getattr(exc.response, "status_code", None)
                if status in (403, 404):
                    continue  # not in this conversation, or no such person
                raise
            aad = member.aad_object_id or member.id
            account = Account(
                str(member.id),
                str(aad),
                member.tenant_id or None,
                str(member.name or member.given_name or aad),
                member.email or member.user_principal_name,
            )
            fresh.append(account)
            known[member_id] = account
        if fresh:
            now = self.runtime.clock.now()
            await self.runtime.run(
                lambda s: store.save_accounts(session=s, accounts=fresh, now=now)
            )
        return known


def _in_session(
    use_case: Callable[..., reactions.ReactionResult],
    event: Any,
    policy: KudosPolicy,
    clock: Clock,
) -> Callable[[Session], reactions.ReactionResult]:
    def work(session: Session) -> reactions.ReactionResult:
        return use_case(event, session=session, policy=policy, clock=clock)

    return work


def _enqueue(
    session: Session,
    channel: str,
    key: str,
    *,
    text: str | None = None,
    card: dict[str, Any] | None = None,
    kind: str = "post",
) -> None:
    data: dict[str, Any] = {"card": card} if card is not None else {"text": text or ""}
    queries.enqueue(
        session=session,
        message=queries.Message(
            key=key[:255],
            platform="teams",
            workspace=None,
            channel=channel,
            kind=kind,
            template="answer.card" if card is not None else "notice",
            data=data,
        ),
    )


def _person(account: Account, tenant: str | None, *, timezone: str | None = None) -> Person:
    return Person(
        platform="teams",
        workspace=account.tenant_id or tenant,
        user_id=account.aad_id,
        display_name=account.name,
        timezone=timezone,
        email=account.email,
    )


def _tenant(channel_data: Any) -> str | None:
    if isinstance(channel_data, dict):
        tenant = channel_data.get("tenant") or {}
        return str(tenant.get("id")) if isinstance(tenant, dict) and tenant.get("id") else None
    return None


def _client_timezone(activity: Any) -> str | None:
    for entity in activity.entities or []:
        if getattr(entity, "type", None) == "clientInfo":
            extra = entity.additional_properties or {}
            return str(extra.get("timezone") or "") or None
    return None


def _mentions(activity: Any) -> list[tuple[str, str, str]]:
    """(id, name, text) of each person mentioned, the bot itself left out."""
    bot_id = activity.recipient.id if activity.recipient else None
    found: list[tuple[str, str, str]] = []
    for entity in activity.entities or []:
        if getattr(entity, "type", None) != "mention":
            continue
        data = _entity(entity)
        mentioned = data.get("mentioned") or {}
        ident = str(mentioned.get("id") or "")
        if not ident or ident == bot_id:
            continue
        found.append((ident, str(mentioned.get("name") or ""), str(data.get("text") or "")))
    return found


def _entity(entity: Any) -> dict[str, Any]:
    """An entity's fields; the SDK keeps those of types it has no class for aside."""
    return {**(getattr(entity, "additional_properties", None) or {}), **entity.serialize()}


def _without_bot(activity: Any) -> str:
    """The message text with the mention of the bot taken out."""
    text = str(activity.text or "")
    bot_id = activity.recipient.id if activity.recipient else None
    for entity in activity.entities or []:
        if getattr(entity, "type", None) != "mention":
            continue
        data = _entity(entity)
        if (data.get("mentioned") or {}).get("id") == bot_id and data.get("text"):
            text = text.replace(str(data["text"]), " ", 1)
    return text.strip()


def _plain(text: str) -> str:
    """Text without markup: mentions by name, tags dropped, entities decoded."""
    return html.unescape(_TAG.sub(" ", _AT.sub(lambda m: f"@{m.group(1)}", text)))


def _as_command_text(text: str, mentions: list[tuple[str, str, str]]) -> tuple[str, dict[str, str]]:
    """The kudos text in the form the shared parser reads (Slack's `<@id|name>` escaped
    text), and the mentioned ids with their names, in order."""
    names: dict[str, str] = {}
    pieces: list[str] = []
    rest = text
    for ident, name, tag in mentions:
        at = rest.find(tag) if tag else -1
        if at < 0:
            continue
        pieces.append(_escape(_plain(rest[:at])))
        label = name or _plain(tag).lstrip("@")
        pieces.append(f"<@{ident}|{label.replace('|', ' ').replace('>', ' ')}>")
        names.setdefault(ident, label)
        rest = rest[at + len(tag) :]
    pieces.append(_escape(_plain(rest)))
    return re.sub(r"\s+", " ", "".join(pieces)).strip(), names


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _number(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None

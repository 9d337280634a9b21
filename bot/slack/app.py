"""The Slack adapter: Bolt listeners that turn payloads into neutral events and answers."""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.chat import boards
from bot.chat.commands import Command, route
from bot.chat.mentions import as_typed
from bot.chat.ratelimit import too_fast
from bot.observability import metrics
from bot.runtime import Runtime
from bot.slack import blocks as slack_render
from bot.slack import deadline
from bot.slack import home as slack_home
from bot.slack import review as slack_review
from bot.slack import shortcut as slack_shortcut
from bot.slack import survey as slack_survey
from bot.slack.asked import command_event, command_key, screened
from bot.slack.channels import SlackChannels, message_permalink, not_here, noted
from bot.slack.clients import SlackClients, same_token_as_environment
from bot.slack.home_refresh import Refresher
from bot.slack.install import Installations
from bot.slack.people import SlackPeople
from handlers import i18n, kudos, reactions, stats, workspaces
from handlers.events import KudosRequested, Person, ReactionAdded, ReactionRemoved
from handlers.i18n import N_, _

log = logging.getLogger("plaudit.slack")
_SORRY = N_(
    "Something went wrong on our side and nothing was recorded. Please try again in a minute."
)
SORRY = f":warning: {_SORRY}"  # as it reads in English


def sorry() -> str:
    """SORRY in the current language."""
    return f":warning: {_(_SORRY)}"


MAX_TEXT = 4000


def build(
    runtime: Runtime,
    *,
    client: AsyncWebClient,
    signing_secret: str,
    clients: SlackClients | None = None,
    oauth: AsyncOAuthSettings | None = None,
    isolated: bool = False,
) -> AsyncApp:
    """A Bolt app whose listeners call the use cases through `runtime`.

    With `oauth` (multi-workspace) Bolt serves the install flow and gives each request a
    client with its workspace's bot token; `clients` does the same for our own calls.
    `isolated`: boards count the asking workspace only."""
    options: dict[str, Any] = {}
    if oauth is not None:
        assert isinstance(oauth.installation_store, Installations)
        options = {
            "oauth_settings": oauth,
            "installation_store": oauth.installation_store,
            # auth.test once per token, not on every request.
            "authorize": AsyncInstallationStoreAuthorize(
                installation_store=oauth.installation_store,
                client_id=oauth.client_id,
                client_secret=oauth.client_secret,
                bot_only=True,
                cache_enabled=True,
                client=client,
                logger=log,
            ),
        }
    with same_token_as_environment(client):
        app = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            # Ack only after the work is committed: a crash before then makes Slack retry,
            # and the dedupe keys make the retry harmless.
            process_before_response=True,
            raise_error_for_unhandled_request=False,
            **options,
        )
    clients = clients or SlackClients(client)
    people = SlackPeople(clients)
    _register_uninstall(app, runtime, clients)  # before the catch-all event listener
    home = slack_home.register(app, runtime, people)  # so is the Home tab's
    _register(app, runtime, people, home, isolated=isolated)
    slack_review.register(app, runtime, people)
    slack_shortcut.register(app, runtime, people)
    slack_survey.register(app, runtime, people)
    return app


def _register(
    app: AsyncApp, runtime: Runtime, people: SlackPeople, home: Refresher, *, isolated: bool
) -> None:
    policy = runtime.policy
    poke = runtime.poke
    where = SlackChannels(people.clients)

    @app.command("/kudos")
    async def on_kudos(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        # Slack waits 3 s for the answer; a slower one goes to response_url instead.
        work = partial(kudos_command, command=command, client=client, context=context)
        url = command.get("response_url")
        said = sorry()  # (in the organisation's language: the giver is not known yet)
        await deadline.answer(ack, work, response_url=url, sorry=said, session=client.session)

    async def kudos_command(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        team = str(command.get("team_id") or context.team_id or "")
        user = str(command.get("user_id") or "")
        # Answered in the giver's language; looked up once (a kudos needs them anyway).
        giver = await people.find(team, user)
        with i18n.speaking(giver.locale if giver else None):
            await answer_command(ack, command, client, team, user, giver)

    async def answer_command(
        ack: AsyncAck,
        command: dict[str, Any],
        client: AsyncWebClient,
        team: str,
        user: str,
        known: Person | None,
    ) -> None:
        text = str(command.get("text") or "").strip()
        typed = as_typed(text)  # Slack's escapes undone, mentions as names: what was typed
        channel = command.get("channel_id")
        wait = runtime.limiter.wait("slack", team, user)
        if wait:
            note = await screened(runtime, people, typed, command_key(command, team), team, user)
            await ack(response_type="ephemeral", text=too_fast(wait) + note)
            return
        try:
            routed = route(typed, keyword=False)
            if routed.command is Command.HELP:
                await ack(**slack_render.help_answer(policy))
                return
            if routed.command is Command.LEADERBOARD:
                workspace = team if isolated else None
                await ack(**await _leaderboard(runtime, list(routed.args), workspace))
                return
            giver = known or await people.get(team, user)
            if routed.command is Command.ME:
                summary = await runtime.run(
                    lambda s: stats.me(giver, session=s, policy=policy, clock=runtime.clock)
                )
                await ack(**slack_render.me_answer(summary))
                return
            if routed.command is Command.FORM:
                await ack()
                view = slack_render.modal(policy, channel, private=bool(routed.args))
                await client.views_open(trigger_id=command["trigger_id"], view=view)
                return
            if len(typed) > MAX_TEXT:
                key = command_key(command, team)
                note = await screened(runtime, people, typed, key, team, user)
                too_long = _(
                    "That kudos is too long ({length} characters); please keep it under {most}.",
                    length=len(typed),
                    most=MAX_TEXT,
                )
                await ack(response_type="ephemeral", text=too_long + note)
                return
            asked = await command_event(people, policy, command, team, giver, text)
            event = await where.for_kudos(asked, policy)  # posted only where Slack takes it
            result = await runtime.run(lambda s: _give(s, runtime, event))
            home.after(client, event, result)
            metrics.count_kudos(result)
            await ack(**noted(slack_render.answer(result), result, asked, event))
            poke()
        except SlackApiError as exc:
            log.warning("Slack API error during /kudos: %s", exc.response.get("error"))
            await ack(response_type="ephemeral", text=sorry())
        except Exception:
            log.exception("/kudos failed")
            await ack(response_type="ephemeral", text=sorry())

    @app.view(slack_render.MODAL_CALLBACK)
    async def on_modal(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: Any
    ) -> None:
        team = str((body.get("team") or {}).get("id") or body.get("user", {}).get("team_id") or "")
        user = str(body.get("user", {}).get("id") or "")
        try:
            giver = await people.get(team, user)
        except SlackApiError:
            await ack(response_action="errors", errors={"message": sorry()})
            return
        with i18n.speaking(giver.locale):
            await submitted(ack, view, client, team, giver)

    async def submitted(
        ack: AsyncAck, view: dict[str, Any], client: Any, team: str, giver: Person
    ) -> None:
        """The kudos form sent, answered in its giver's language."""
        user = giver.user_id
        channel, link = slack_render.modal_context(view)
        values = view.get("state", {}).get("values", {})
        chosen = tuple(values.get("recipients", {}).get("users", {}).get("selected_users") or ())
        option = (values.get("value", {}).get("value", {}) or {}).get("selected_option") or {}
        message = str(values.get("message", {}).get("text", {}).get("value") or "").strip()
        value = option.get("value")
        hidden = bool(values.get("private", {}).get("private", {}).get("selected_options"))
        try:
            recipients = await people.many(team, chosen)
            event = KudosRequested(
                key=f"slack:view:{team}:{view.get('id')}:{view.get('hash')}",
                giver=giver,
                recipients=recipients,
                message=f"{message} {value}".strip() if value else message,
                values=(value,) if value else (),
                source="modal",
                channel_id=channel,
                private=hidden,
                link=link,
            )
            event = await where.for_kudos(event, policy)  # posted only where Slack takes it
        except SlackApiError:
            await ack(response_action="errors", errors={"message": sorry()})
            return
        if len(event.message) > MAX_TEXT:
            note = await screened(runtime, people, event.message, event.key, team, user)
            await ack(
                response_action="errors", errors={"message": _("Please keep it shorter.") + note}
            )
            return

        def work(session: Session) -> kudos.KudosResult:
            result = _give(session, runtime, event)
            if not isinstance(result, kudos.Refused | kudos.Duplicate):
                answer = slack_render.answer_words(result)  # the notice escapes it once
                kudos.notify(
                    session,
                    key=f"{event.key}:answer",
                    person=giver,
                    channel_id=event.channel_id or giver.user_id,
                    text=f"{answer}\n{not_here(result, channel, event.channel_id)}".rstrip(),
                )
            return result

        result = await runtime.run(work)
        home.after(client, event, result)
        metrics.count_kudos(result)
        if isinstance(result, kudos.Refused):
            block = "message" if result.reason in ("too_short", "value_required") else "recipients"
            if result.reason in ("unknown_value", "value_required") and "value" in values:
                block = "value"
            # What went to drug safety is said in full; other refusals fit under the field.
            shown = result.message if result.to_drug_safety else result.message[:150]
            await ack(response_action="errors", errors={block: shown})
            poke()
            return
        await ack()
        poke()

    @app.event("reaction_added")
    async def on_reaction_added(
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        target = _reaction(event, body, context, policy.reaction_emoji)
        if target is None:
            return
        team, emoji, item = target
        reactor = await people.get(team, str(event.get("user")))
        author_id = event.get("item_user")
        author = (
            await people.get(team, str(author_id))
            if author_id
            else Person("slack", team, "unknown", "unknown", exists=False)
        )
        permalink = await message_permalink(client, item.get("channel"), item.get("ts"))
        added = ReactionAdded(
            key=f"slack:event:{body.get('event_id')}",
            reactor=reactor,
            author=author,
            emoji=emoji,
            channel_id=str(item.get("channel")),
            message_ref=str(item.get("ts")),
            permalink=permalink,
        )
        with i18n.speaking(reactor.locale):  # what the reactor is told (the allowance)
            await runtime.run(
                lambda s: reactions.react(added, session=s, policy=policy, clock=runtime.clock)
            )
        poke()

    @app.event("reaction_removed")
    async def on_reaction_removed(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        target = _reaction(event, body, context, policy.reaction_emoji)
        if target is None:
            return
        team, emoji, item = target
        removed = ReactionRemoved(
            key=f"slack:event:{body.get('event_id')}",
            reactor=Person("slack", team, str(event.get("user")), str(event.get("user"))),
            emoji=emoji,
            channel_id=str(item.get("channel")),
            message_ref=str(item.get("ts")),
        )
        await runtime.run(
            lambda s: reactions.unreact(removed, session=s, policy=policy, clock=runtime.clock)
        )

    @app.event(re.compile(".*"))
    async def on_other_event(event: dict[str, Any]) -> None:
        # Acknowledge anything else Slack sends so it never sees a 404 and retries.
        log.debug("ignored event %s", event.get("type"))


def _register_uninstall(app: AsyncApp, runtime: Runtime, clients: SlackClients) -> None:
    """A workspace that removes Plaudit (or revokes its bot token): its installation is
    deleted and the messages still queued for it are given up, with the reason."""

    async def gone(team: str) -> None:
        if not team:
            return
        if clients.installations is not None:
            await clients.installations.forget(team)
        clients.forget(team)
        dead = await runtime.run(
            lambda s: workspaces.uninstalled(
                s, platform="slack", workspace=team, now=runtime.clock.now()
            )
        )
        log.warning(
            "Plaudit was uninstalled from Slack workspace %s; %d queued messages given up",
            team,
            dead,
        )

    @app.event("app_uninstalled")
    async def on_app_uninstalled(body: dict[str, Any], context: AsyncBoltContext) -> None:
        await gone(str(body.get("team_id") or context.team_id or ""))

    @app.event("tokens_revoked")
    async def on_tokens_revoked(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        # Only the bot token matters: Plaudit asks for no user tokens.
        if (event.get("tokens") or {}).get("bot"):
            await gone(str(body.get("team_id") or context.team_id or ""))


async def _leaderboard(runtime: Runtime, words: list[str], workspace: str | None) -> dict[str, Any]:
    """The answer to `/kudos leaderboard [teams|givers|team X|region X|area X|#value]`."""
    answer = await boards.query(runtime, words, workspace=workspace)
    if isinstance(answer, str):
        return {"response_type": "ephemeral", "text": answer}
    title, board = answer
    return slack_render.leaderboard_answer(board, title)


def _give(session: Session, runtime: Runtime, event: KudosRequested) -> kudos.KudosResult:
    return kudos.give(
        event, session=session, policy=runtime.policy, clock=runtime.clock, rules=runtime.rules
    )


def _reaction(
    event: dict[str, Any],
    body: dict[str, Any],
    context: AsyncBoltContext,
    kudos_emoji: tuple[str, ...],
) -> tuple[str, str, dict[str, Any]] | None:
    """(team, emoji, item) of a kudos reaction on a message, or None for any other reaction."""
    emoji = str(event.get("reaction", "")).split("::", 1)[0]  # "clap::skin-tone-3" is a clap
    item = event.get("item") or {}
    if emoji not in kudos_emoji or item.get("type") != "message":
        return None
    return str(body.get("team_id") or context.team_id or ""), emoji, item

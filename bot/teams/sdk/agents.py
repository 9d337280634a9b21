"""Plaudit's Teams traffic carried by the Microsoft 365 Agents SDK (hosting-core, without
its HTTP hosting): activities read by its activity model, tokens checked by its validator,
turns run by its `ChannelServiceAdapter` with a Connector client per service URL, and
proactive messages sent through the same adapter. SDK errors leave as the seam's."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

import aiohttp
from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from microsoft_agents.activity.teams import TeamsChannelAccount
from microsoft_agents.hosting.core import (
    AuthenticationConstants,
    ChannelServiceAdapter,
    ClaimsIdentity,
    TurnContext,
)
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient
from pydantic import ValidationError

from bot.settings import Settings
from bot.teams.sdk import (
    ConnectorError,
    Logic,
    Member,
    SdkName,
    TurnFailed,
    Unreachable,
    retry_after,
)
from bot.teams.sdk.agents_auth import Inbound, client_factory, closing_clients

log = logging.getLogger("plaudit.teams")
T = TypeVar("T")
TEAMS = "msteams"
# Records of the SDK's that the transport drops (logger: the SDK function that logs them).
# Each non-2xx Connector answer is logged at ERROR: the transport raises `ConnectorError`
# for it, and Plaudit logs it where it decides what to do. An activity its model does not
# read is logged at ERROR with the input quoted (people's words): `parse` says why instead.
QUIETED = {
    "microsoft_agents.hosting.core.connector.client.connector_client": "_handle_request_error",
    "microsoft_agents.activity.activity": "_validate_channel_id",
    # Without an app id (the local-emulator mode) the SDK warns on every turn that its
    # user-token client (OAuth sign-in, which Plaudit does not use) has no app id.
    "microsoft_agents.hosting.core.connector.client.user_token_client": "__init__",
}


class _Quieted(logging.Filter):
    def __init__(self, function: str) -> None:
        super().__init__()
        self.function = function

    def filter(self, record: logging.LogRecord) -> bool:
        return record.funcName != self.function


def _quiet_sdk_logs() -> None:
    for name, function in QUIETED.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Quieted) for f in logger.filters):
            logger.addFilter(_Quieted(function))


class AgentsTransport:
    """The `Transport` over the Agents SDK, for the bot the settings describe."""

    name: SdkName = "agents"

    def __init__(self, settings: Settings) -> None:
        _quiet_sdk_logs()
        self._app_id = settings.microsoft_app_id or ""
        self._inbound = Inbound(settings)
        # `on_turn_error` stays unset: failures leave the adapter and are mapped here (the
        # SDK's HTTP adapters would instead send the error text to the user).
        self._adapter = ChannelServiceAdapter(client_factory(settings))

    def parse(self, data: dict[str, Any]) -> str | None:
        try:
            Activity.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the activity"
            return f"not a Bot Framework activity: {where}: {first['msg']}"
        except Exception as exc:
            # ValueError or TypeError; and the SDK raises a bare Exception for a channel id
            # that the activity's productInfo entity contradicts.
            return f"not a Bot Framework activity: {exc}"
        return None

    def reference(self, data: dict[str, Any]) -> dict[str, Any]:
        reference = _wire(Activity.model_validate(data).get_conversation_reference())
        reference.pop("activityId", None)
        return reference

    async def authenticate(self, data: dict[str, Any], authorization: str | None) -> object:
        return await self._inbound.identity(data, authorization)

    async def run(self, identity: object, data: dict[str, Any], logic: Logic) -> None:
        if not isinstance(identity, ClaimsIdentity):
            raise TypeError("run takes the identity that authenticate returned")
        activity = Activity.model_validate(data)
        where = _team_id(data) or activity.conversation.id

        async def turn(context: TurnContext) -> None:
            try:
                await logic(_Lookup(context, where))
            except Exception as exc:
                log.error("Teams turn failed for activity %s", activity.id, exc_info=exc)
                raise TurnFailed() from exc

        # The SDK's answer to an invoke is not used: `logic` keeps its own.
        await self._adapter.process_activity(identity, activity, turn)

    async def send(self, reference: dict[str, Any], content: dict[str, Any]) -> str | None:
        ref = ConversationReference.model_validate(reference)
        message = _message(ref, content)
        sent: list[str | None] = []

        async def turn(context: TurnContext) -> None:
            answer = await _connector(context).conversations.send_to_conversation(
                ref.conversation.id, message
            )
            sent.append(answer.id or None)

        continuation = ref.get_continuation_activity()
        await _delivered(self._adapter.continue_conversation(self._app_id, continuation, turn))
        return sent[0] if sent else None

    async def delete(self, reference: dict[str, Any], activity_id: str) -> None:
        ref = ConversationReference.model_validate(reference)

        async def turn(context: TurnContext) -> None:
            connector = _connector(context)
            await connector.conversations.delete_activity(ref.conversation.id, activity_id)

        continuation = ref.get_continuation_activity()
        await _delivered(self._adapter.continue_conversation(self._app_id, continuation, turn))

    async def open_chat(
        self, *, service_url: str, bot: dict[str, Any], user_id: str, aad_id: str, tenant: str
    ) -> dict[str, Any]:
        agent = ChannelAccount.model_validate({k: bot[k] for k in ("id", "name") if bot.get(k)})
        parameters = ConversationParameters(
            is_group=False,
            agent=agent,
            members=[ChannelAccount(id=user_id)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}},
        )
        opened: list[str] = []

        async def turn(context: TurnContext) -> None:
            opened.append(str(context.activity.conversation.id))

        scope = AuthenticationConstants.AGENTS_SDK_SCOPE
        async with closing_clients():
            await _delivered(
                self._adapter.create_conversation(
                    self._app_id, TEAMS, service_url, scope, parameters, turn
                )
            )
        return _wire(
            ConversationReference(
                channel_id=TEAMS,
                service_url=service_url,
                agent=agent,
                user=ChannelAccount(id=user_id, aad_object_id=aad_id),
                conversation=ConversationAccount(
                    id=opened[0], conversation_type="personal", tenant_id=tenant
                ),
            )
        )


class _Lookup:
    """The turn's member look-up: in the activity's team, else its conversation."""

    def __init__(self, context: TurnContext, where: str) -> None:
        self._context = context
        self._where = where

    async def member(self, member_id: str) -> Member | None:
        client = _connector(self._context)
        try:
            found = await _delivered(client.get_conversation_member(self._where, member_id))
        except ConnectorError as exc:
            if exc.status in (403, 404):
                return None  # not a member here, or nobody
            raise
        return _member(found)


def _team_id(data: Mapping[str, Any]) -> str | None:
    """The team of a channel's activity (`channelData.team.id`), as botbuilder's
    `TeamsInfo.get_member` reads it."""
    channel_data = data.get("channelData")
    team = channel_data.get("team") if isinstance(channel_data, dict) else None
    found = team.get("id") if isinstance(team, dict) else None
    return str(found) if found else None


def _member(found: TeamsChannelAccount) -> Member:
    return Member(
        id=str(found.id),
        aad_object_id=found.aad_object_id or None,
        tenant_id=found.tenant_id or None,
        name=found.name or None,
        given_name=found.given_name or None,
        email=found.email or None,
        user_principal_name=found.user_principal_name or None,
        user_role=found.user_role or None,
    )


def _connector(context: TurnContext) -> TeamsConnectorClient:
    # The adapter files the turn's client under the abstract type (mypy wants a concrete one).
    client = context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
    if not isinstance(client, TeamsConnectorClient):
        raise RuntimeError("the turn has no Teams Connector client")
    return client


def _message(reference: ConversationReference, content: Mapping[str, Any]) -> Activity:
    """A new message (not a reply) from the bot in the referenced conversation."""
    fields: dict[str, Any] = {"type": ActivityTypes.message}
    if content.get("text"):
        fields.update(text=content["text"], textFormat="markdown")
    if content.get("attachments"):
        fields["attachments"] = [
            {"contentType": a["contentType"], "content": a["content"]}
            for a in content["attachments"]
        ]
    message = Activity.model_validate(fields)
    message.apply_conversation_reference(reference)
    if content.get("locale"):  # the words' own, over that of the reference's last writer
        message.locale = str(content["locale"])
    wire = message.model_dump(mode="json", by_alias=True, exclude_none=True)
    wire.pop("replyToId", None)
    # Read back from the wire form, so the Connector client sends only the fields given.
    return Activity.model_validate(wire)


def _wire(reference: ConversationReference) -> dict[str, Any]:
    return reference.model_dump(mode="json", by_alias=True, exclude_none=True)


async def _delivered(work: Awaitable[T]) -> T:
    """What `work` gives, with the Connector's HTTP errors as `ConnectorError` and failures
    to reach it as `Unreachable` (token failures are `Unreachable` already)."""
    try:
        return await work
    except aiohttp.ClientResponseError as exc:
        raise ConnectorError(exc.status, exc.message, retry_after(exc.headers)) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Unreachable(f"the Bot Connector could not be reached: {exc!r}") from exc

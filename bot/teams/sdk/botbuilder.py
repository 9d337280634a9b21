"""Teams carried by the Bot Framework SDK for Python (botbuilder), archived upstream and out
of support since 2025-12-31; kept selectable (`PLAUDIT_TEAMS_SDK=botbuilder`) for
deployments that have validated it. Its CloudAdapter authenticates, runs turns and sends."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import requests
from botbuilder.core import CloudAdapterBase, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from msrest.exceptions import (  # type: ignore[attr-defined]
    ClientRequestError,
    DeserializationError,
    HttpOperationError,
)

from bot.settings import Settings
from bot.teams.sdk import (
    ConnectorError,
    Logic,
    Member,
    Refused,
    SdkName,
    TurnFailed,
    Unreachable,
    retry_after,
)
from bot.teams.sdk.botbuilder_auth import authentication

log = logging.getLogger("plaudit.teams")
# msrest warns of every field Teams sends that the schema classes do not name.
logging.getLogger("msrest.serialization").setLevel(logging.ERROR)
CONTINUE = "ContinueConversation"  # the event a proactive turn runs on


class BotbuilderTransport:
    name: SdkName = "botbuilder"

    def __init__(self, settings: Settings) -> None:
        self.app_id = settings.microsoft_app_id
        self.adapter = CloudAdapter(authentication(settings))
        self.adapter.on_turn_error = _on_error

    def parse(self, data: dict[str, Any]) -> str | None:
        try:
            Activity().deserialize(data)
        except (DeserializationError, ValueError, TypeError, AttributeError) as exc:
            return f"not a Bot Framework Activity: {type(exc).__name__}"
        return None

    def reference(self, data: dict[str, Any]) -> dict[str, Any]:
        reference = TurnContext.get_conversation_reference(Activity().deserialize(data))
        reference.activity_id = None  # later messages start afresh, not as replies
        return dict(reference.serialize())

    async def authenticate(self, data: dict[str, Any], authorization: str | None) -> object:
        activity = Activity().deserialize(data)
        auth = self.adapter.bot_framework_authentication
        try:
            result = await auth.authenticate_request(activity, authorization or "")
        except Exception as exc:  # the SDK raises PermissionError, or whatever jwt raised
            raise _refused(f"{type(exc).__name__}: {exc}") from exc
        if result is None or result.claims_identity is None:
            raise _refused("no usable token")
        return result

    async def run(self, identity: object, data: dict[str, Any], logic: Logic) -> None:
        async def callback(turn_context: TurnContext) -> None:
            await logic(_Lookup(turn_context))

        await self.adapter.process_activity(identity, Activity().deserialize(data), callback)

    async def send(self, reference: dict[str, Any], content: dict[str, Any]) -> str | None:
        ref = ConversationReference().deserialize(reference)
        activity = _activity(content)
        sent: dict[str, str | None] = {}

        async def callback(turn_context: TurnContext) -> None:
            sent["id"] = await _send_to_conversation(turn_context, activity, ref)

        try:
            await self.adapter.continue_conversation(ref, callback, bot_app_id=self.app_id)
        except Exception as exc:
            raise _translated(exc) from exc
        return sent.get("id")

    async def delete(self, reference: dict[str, Any], activity_id: str) -> None:
        ref = ConversationReference().deserialize(reference)

        async def callback(turn_context: TurnContext) -> None:
            client = turn_context.turn_state[CloudAdapterBase.BOT_CONNECTOR_CLIENT_KEY]
            await client.conversations.delete_activity(ref.conversation.id, activity_id)

        try:
            await self.adapter.continue_conversation(ref, callback, bot_app_id=self.app_id)
        except Exception as exc:
            raise _translated(exc) from exc

    async def open_chat(
        self, *, service_url: str, bot: dict[str, Any], user_id: str, aad_id: str, tenant: str
    ) -> dict[str, Any]:
        params = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=bot.get("id"), name=bot.get("name")),
            members=[ChannelAccount(id=user_id)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}},
        )
        made: dict[str, dict[str, Any]] = {}

        async def callback(turn_context: TurnContext) -> None:
            incoming = turn_context.activity
            reference = TurnContext.get_conversation_reference(incoming)
            reference.activity_id = None
            reference.user = ChannelAccount(id=user_id, aad_object_id=aad_id)
            reference.conversation = ConversationAccount(
                id=incoming.conversation.id, conversation_type="personal", tenant_id=tenant
            )
            made["reference"] = dict(reference.serialize())

        try:
            await self.adapter.create_conversation(
                self.app_id, callback, params, channel_id="msteams", service_url=service_url
            )
        except Exception as exc:
            raise _translated(exc) from exc
        return made["reference"]


def _refused(reason: str) -> Refused:
    log.info("refused a Teams activity: %s", reason)
    return Refused(reason)


class _Lookup:
    def __init__(self, turn_context: TurnContext) -> None:
        self.turn_context = turn_context

    async def member(self, member_id: str) -> Member | None:
        try:
            found = await TeamsInfo.get_member(self.turn_context, member_id)
        except HttpOperationError as exc:
            if _code(exc) in (403, 404):
                return None  # not in this conversation, or no such person
            raise _translated(exc) from exc
        except (ClientRequestError, aiohttp.ClientError, requests.RequestException) as exc:
            raise _translated(exc) from exc
        return Member(
            id=str(found.id),
            aad_object_id=found.aad_object_id,
            tenant_id=found.tenant_id,
            name=found.name,
            given_name=found.given_name,
            email=found.email,
            user_principal_name=found.user_principal_name,
            user_role=found.user_role,
        )


async def _on_error(turn_context: TurnContext, error: Exception) -> None:
    """A failed turn: logged (a proactive send's failure is the outbox's to log), then
    raised so the caller answers 503 or the outbox retries."""
    activity = turn_context.activity
    if not (activity.type == ActivityTypes.event and activity.name == CONTINUE):
        log.error(
            "Teams turn failed for activity %s",
            activity.id,
            exc_info=(type(error), error, error.__traceback__),
        )
    raise TurnFailed() from error


async def _send_to_conversation(
    turn_context: TurnContext, activity: Activity, reference: ConversationReference
) -> str | None:
    """SendToConversation: a new message in the conversation, not a reply to the turn's
    (synthetic) continuation activity."""
    client = turn_context.turn_state[CloudAdapterBase.BOT_CONNECTOR_CLIENT_KEY]
    locale = activity.locale  # the words' own, over that of the reference's last writer
    outgoing = TurnContext.apply_conversation_reference(activity, reference)
    outgoing.reply_to_id = None
    outgoing.locale = locale or outgoing.locale
    response = await client.conversations.send_to_conversation(outgoing.conversation.id, outgoing)
    return str(response.id) if response is not None and response.id else None


def _activity(content: dict[str, Any]) -> Activity:
    attachments = [
        Attachment(content_type=a["contentType"], content=a["content"])
        for a in content.get("attachments") or []
    ]
    return Activity(
        type=ActivityTypes.message,
        text=content.get("text"),
        text_format="markdown" if content.get("text") else None,
        attachments=attachments or None,
        locale=content.get("locale"),
    )


def _code(exc: HttpOperationError) -> int:
    return int(getattr(exc.response, "status_code", 0) or 0)


def _translated(exc: BaseException) -> Exception:
    """The seam's error for what botbuilder raised (its turn-error handler raises its own
    from the connector's): an HTTP answer, or no answer at all."""
    seen: set[int] = set()
    found: BaseException | None = exc
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        if isinstance(found, HttpOperationError):
            headers = getattr(found.response, "headers", None)
            return ConnectorError(_code(found), str(found.message), retry_after(headers))
        if isinstance(
            found,
            ClientRequestError
            | aiohttp.ClientError
            | requests.RequestException
            | PermissionError
            | TimeoutError,
        ):
            return Unreachable(f"{type(found).__name__}: {found}")
        found = found.__cause__
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))

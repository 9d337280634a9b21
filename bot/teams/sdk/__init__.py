"""The seam between what Plaudit does on Teams and the SDK that carries it.

Everything Plaudit does in Teams (cards, verbs, people, stored conversation references,
outbox sends, rendering) is written once, against `Transport`. Two implementations carry
it: `agents` (the Microsoft 365 Agents SDK, the default) and `botbuilder` (the archived Bot
Framework SDK), chosen by `PLAUDIT_TEAMS_SDK`. Only their modules import an SDK.

Activities and conversation references cross the seam as the Bot Framework wire JSON
(camelCase dicts), which both SDKs read and write; SDK errors cross it as the exceptions
below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from bot.settings import Settings

SdkName = Literal["agents", "botbuilder"]
SDKS: tuple[SdkName, ...] = ("agents", "botbuilder")


@dataclass(frozen=True)
class Member:
    """A person as the connector's member look-up describes them."""

    id: str
    aad_object_id: str | None = None
    tenant_id: str | None = None
    name: str | None = None
    given_name: str | None = None
    email: str | None = None
    user_principal_name: str | None = None
    user_role: str | None = None


class Refused(Exception):
    """The request's credentials were refused: no token, or one the bot does not accept."""


class ConnectorError(Exception):
    """The Bot Connector answered with an HTTP error."""

    def __init__(self, status: int, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(f"the Bot Connector answered HTTP {status}: {message}".strip(": "))
        self.status = status
        self.message = message
        self.retry_after = retry_after


def retry_after(headers: Any) -> float | None:
    """A connector answer's `Retry-After` in seconds (either case of the header name), or
    None when absent or not a number."""
    found = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    try:
        return max(float(found), 0.0) if found else None
    except (TypeError, ValueError):
        return None


class Unreachable(Exception):
    """The Bot Connector or the token service could not be reached, or gave no token."""


class TurnFailed(Exception):
    """The bot could not handle an activity; the channel should deliver it again."""


class Lookup(Protocol):
    """What a turn may ask of the connector while it runs."""

    async def member(self, member_id: str) -> Member | None:
        """The member by 29: id or AAD object id, looked up in the activity's team (its
        `channelData.team.id`) or else its conversation; None when the connector answers
        403 or 404 (not a member, or nobody). Other errors raise `ConnectorError`."""
        ...


Logic = Callable[[Lookup], Awaitable[None]]


class Transport(Protocol):
    """One SDK's way of carrying Plaudit's Teams traffic."""

    name: SdkName

    def parse(self, data: dict[str, Any]) -> str | None:
        """None when the SDK's activity model reads `data`, else why it does not."""
        ...

    def reference(self, data: dict[str, Any]) -> dict[str, Any]:
        """The SDK's conversation reference for the activity `data`, as wire JSON, with no
        `activityId` (later messages start afresh, not as replies)."""
        ...

    async def authenticate(self, data: dict[str, Any], authorization: str | None) -> object:
        """The SDK's claims identity for a delivered activity and its `Authorization`
        header; raises `Refused` when the token is missing or not acceptable (signature,
        audience, issuer, or a `serviceurl` claim other than the activity's serviceUrl)."""
        ...

    async def run(self, identity: object, data: dict[str, Any], logic: Logic) -> None:
        """The SDK's turn for `data`, with a connector client for its serviceUrl; `logic`
        runs inside it. An exception from `logic` is logged and raised as `TurnFailed`."""
        ...

    async def send(self, reference: dict[str, Any], content: dict[str, Any]) -> str | None:
        """SendToConversation: a new message (`content`: optional `text`, markdown, and
        `attachments` of {contentType, content}; `locale`, the language of its words, else
        the reference's) in the referenced conversation; the id the connector gave it.
        Raises `ConnectorError` or `Unreachable`."""
        ...

    async def open_chat(
        self, *, service_url: str, bot: dict[str, Any], user_id: str, aad_id: str, tenant: str
    ) -> dict[str, Any]:
        """CreateConversation: the 1:1 chat between the bot and a person, and its
        conversation reference (wire JSON, `conversation.conversationType` "personal", the
        user carrying `aadObjectId`). Raises `ConnectorError` or `Unreachable`."""
        ...

    async def delete(self, reference: dict[str, Any], activity_id: str) -> None:
        """DeleteActivity: the bot's message `activity_id` removed from the referenced
        conversation (`DELETE /v3/conversations/{conversationId}/activities/{activityId}`).
        Raises `ConnectorError` (404: no such message there, deleted already) or
        `Unreachable`."""
        ...


def transport(settings: Settings) -> Transport:
    """The transport the settings choose (`PLAUDIT_TEAMS_SDK`)."""
    if settings.teams_sdk == "botbuilder":
        from bot.teams.sdk.botbuilder import BotbuilderTransport

        return BotbuilderTransport(settings)
    from bot.teams.sdk.agents import AgentsTransport

    return AgentsTransport(settings)

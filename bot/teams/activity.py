"""What a Teams activity says: the sender's tenant and timezone, the people mentioned, the
text without the bot's mention, in the mention-token form `bot.chat.mentions` reads."""

from __future__ import annotations

import html
import re
from typing import Any

from handlers.events import Person
from storage.teams import Account

_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def person(
    account: Account,
    tenant: str | None,
    *,
    timezone: str | None = None,
    served: frozenset[str] | None = None,
) -> Person:
    """The person of an account met in `tenant`: external when a guest or anonymous there,
    or of a tenant other than those `served` (or, without them, than `tenant`): a user of
    another organisation in a shared channel."""
    home = served or ({tenant.lower()} if tenant else set())
    other = bool(account.tenant_id and home and account.tenant_id.lower() not in home)
    return Person(
        platform="teams",
        workspace=account.tenant_id or tenant,
        user_id=account.aad_id,
        display_name=account.name,
        timezone=timezone,
        email=account.email,
        external=account.guest or other,
    )


def tenant(channel_data: Any) -> str | None:
    if isinstance(channel_data, dict):
        tenant = channel_data.get("tenant") or {}
        return str(tenant.get("id")) if isinstance(tenant, dict) and tenant.get("id") else None
    return None


def shared_channel(channel_data: Any) -> bool:
    """Whether the activity comes from a shared channel (`channelData.channel.type` is
    "shared"): one people of other organisations may read."""
    channel = channel_data.get("channel") if isinstance(channel_data, dict) else None
    if not isinstance(channel, dict):
        return False
    kind = channel.get("type") or channel.get("membershipType") or ""
    return str(kind).lower() == "shared"


def tenants_named(activity: Any) -> set[str]:
    """Every tenant id the activity names (`conversation.tenantId`, `channelData.tenant.id`),
    lower-cased: one for a well-formed Teams activity."""
    conversation = getattr(activity, "conversation", None)
    named = {getattr(conversation, "tenant_id", None), tenant(activity.channel_data)}
    return {str(t).strip().lower() for t in named if t and str(t).strip()}


def client_timezone(activity: Any) -> str | None:
    for entity in activity.entities or []:
        if getattr(entity, "type", None) == "clientInfo":
            extra = entity.additional_properties or {}
            return str(extra.get("timezone") or "") or None
    return None


def mentions(activity: Any) -> list[tuple[str, str, str]]:
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


def without_bot(activity: Any) -> str:
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


def plain(text: str) -> str:
    """Text without markup: mentions by name, tags dropped, entities decoded."""
    return html.unescape(_TAG.sub(" ", _AT.sub(lambda m: f"@{m.group(1)}", text)))


def as_command_text(text: str, mentions: list[tuple[str, str, str]]) -> tuple[str, dict[str, str]]:
    """The kudos text in the form the shared parser reads (Slack's `<@id|name>` escaped
    text), and the mentioned ids with their names, in order."""
    names: dict[str, str] = {}
    pieces: list[str] = []
    rest = text
    for ident, name, tag in mentions:
        at = rest.find(tag) if tag else -1
        if at < 0:
            continue
        pieces.append(_escape(plain(rest[:at])))
        label = name or plain(tag).lstrip("@")
        pieces.append(f"<@{ident}|{label.replace('|', ' ').replace('>', ' ')}>")
        names.setdefault(ident, label)
        rest = rest[at + len(tag) :]
    pieces.append(_escape(plain(rest)))
    return re.sub(r"\s+", " ", "".join(pieces)).strip(), names


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def number(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None

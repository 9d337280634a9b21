"""What a Teams activity (its wire JSON) says: the sender's tenant, timezone and locale, the
people mentioned, the text without the bot's mention, in the mention-token form
`bot.chat.mentions` reads."""

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
    locale: str | None = None,
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
        locale=locale,
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


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON object of an activity, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def sender(data: dict[str, Any]) -> dict[str, Any]:
    """The activity's `from` account."""
    return as_dict(data.get("from"))


def conversation(data: dict[str, Any]) -> dict[str, Any]:
    return as_dict(data.get("conversation"))


def recipient_id(data: dict[str, Any]) -> str | None:
    ident = as_dict(data.get("recipient")).get("id")
    return str(ident) if ident else None


def entities(data: dict[str, Any]) -> list[dict[str, Any]]:
    found = data.get("entities")
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def tenants_named(data: dict[str, Any]) -> set[str]:
    """Every tenant id the activity names (`conversation.tenantId`, `channelData.tenant.id`),
    lower-cased: one for a well-formed Teams activity."""
    named = {conversation(data).get("tenantId"), tenant(data.get("channelData"))}
    return {str(t).strip().lower() for t in named if t and str(t).strip()}


def client_timezone(data: dict[str, Any]) -> str | None:
    """The IANA timezone the client reports (`localTimezone`, else its clientInfo entity)."""
    if data.get("localTimezone"):
        return str(data["localTimezone"])
    for entity in entities(data):
        if entity.get("type") == "clientInfo":
            return str(entity.get("timezone") or "") or None
    return None


def client_locale(data: dict[str, Any]) -> str | None:
    """The sender's locale ("de-DE"): the activity's `locale`, else its clientInfo entity's."""
    if isinstance(data.get("locale"), str) and data["locale"].strip():
        return str(data["locale"]).strip()
    for entity in entities(data):
        if entity.get("type") == "clientInfo" and isinstance(entity.get("locale"), str):
            return str(entity["locale"]).strip() or None
    return None


def mentions(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(id, name, text) of each person mentioned, the bot itself left out."""
    bot_id = recipient_id(data)
    found: list[tuple[str, str, str]] = []
    for entity in entities(data):
        if entity.get("type") != "mention":
            continue
        mentioned = as_dict(entity.get("mentioned"))
        ident = str(mentioned.get("id") or "")
        if not ident or ident == bot_id:
            continue
        found.append((ident, str(mentioned.get("name") or ""), str(entity.get("text") or "")))
    return found


def without_bot(data: dict[str, Any]) -> str:
    """The message text with the mention of the bot taken out."""
    text = str(data.get("text") or "")
    bot_id = recipient_id(data)
    for entity in entities(data):
        if entity.get("type") != "mention":
            continue
        if as_dict(entity.get("mentioned")).get("id") == bot_id and entity.get("text"):
            text = text.replace(str(entity["text"]), " ", 1)
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

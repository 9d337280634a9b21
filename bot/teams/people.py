"""Who is who in Teams: 29: ids and AAD object ids resolved to accounts, from the database
first, else from the Bot Connector's member look-up (through the turn's SDK); people typed
by email or name found among the members; the sender recognised as their member, carrying
that member's email."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlmodel import Session

from bot.runtime import Runtime
from bot.teams import activity as parsed
from bot.teams.turn import Turn
from handlers import members
from handlers.events import Person
from storage import directory
from storage import people as identities
from storage import teams as store
from storage.teams import Account


async def sender(runtime: Runtime, turn: Turn) -> Person:
    """The person behind the turn, with the timezone and locale their client reports, as
    their member: recognised by AAD object id (linked by email only on first sight, to a
    member with no Teams identity yet), and carrying the member's email, not the
    directory's."""
    conv = turn.conv
    found = await accounts(runtime, turn, [turn.sender_id])
    tz = parsed.client_timezone(turn.data)
    account = found.get(turn.sender_id)
    if account is None:
        aad = str(parsed.sender(turn.data).get("aadObjectId") or turn.sender_id)
        name = str(parsed.sender(turn.data).get("name") or aad)
        account = Account(turn.sender_id, aad, conv.tenant_id, name, None)
    person = parsed.person(
        account, conv.tenant_id, timezone=tz, locale=turn.locale, served=runtime.teams_tenants
    )
    now = runtime.clock.now()
    return await runtime.run(lambda s: members.recognise(person, session=s, now=now))


async def accounts(
    runtime: Runtime, turn: Turn, ids: list[str], *, by_aad: bool = False
) -> dict[str, Account]:
    """Accounts for 29:... ids (or AAD object ids), from the database or the connector."""
    if not ids:
        return {}
    lookup: Callable[[Session], dict[str, Account]] = (
        (lambda s: store.accounts_by_aad(session=s, aad_ids=ids))
        if by_aad
        else (lambda s: store.accounts(session=s, user_ids=ids))
    )
    known = await runtime.run(lookup)
    home = parsed.tenants_named(turn.data)
    fresh: list[Account] = []
    for member_id in ids:
        if member_id in known and known[member_id].role is not None:
            continue  # (an account stored before roles were kept is asked for again)
        member = await turn.lookup.member(member_id)
        if member is None:
            continue  # not in this conversation, or no such person
        aad = member.aad_object_id or member.id
        account = Account(
            str(member.id),
            str(aad),
            member.tenant_id or None,
            str(member.name or member.given_name or aad),
            member.email or member.user_principal_name,
            member.user_role or "user",
        )
        fresh.append(account)
        known[member_id] = account
    if fresh:
        now = runtime.clock.now()
        await runtime.run(lambda s: store.save_accounts(session=s, accounts=fresh, now=now))
    return {key: _in_tenant(account, home) for key, account in known.items()}


def _in_tenant(account: Account, home: set[str]) -> Account:
    """A guest from another tenant (a shared channel) keeps their name and AAD id but not
    their email: an address their own directory reports links them to no member here."""
    if account.tenant_id and home and account.tenant_id.lower() not in home:
        return replace(account, email=None)
    return account


async def typed(runtime: Runtime, handles: list[str], tenant: str | None) -> list[Person]:
    """The people typed (an email, its local part, or a display name): each the one active
    member it names who has a Teams identity in this tenant, else a person who does not
    exist, named as typed (nobody, several people, or someone not met in Teams here)."""
    if not handles:
        return []
    return await runtime.run(lambda s: [_typed_one(s, handle, tenant) for handle in handles])


def _typed_one(session: Session, handle: str, tenant: str | None) -> Person:
    nobody = Person("teams", tenant, handle, handle, exists=False)
    matches = directory.by_handle(session=session, handle=handle, limit=2)
    aad = identities.platform_id(matches[0], "teams") if len(matches) == 1 else None
    if aad is None:
        return nobody
    account = store.accounts_by_aad(session=session, aad_ids=[aad]).get(aad)
    if account and account.tenant_id and tenant and account.tenant_id.lower() != tenant.lower():
        return nobody  # a guest from another organisation is picked, never typed
    member = matches[0]
    return Person(
        "teams",
        tenant,
        aad,
        member.display_name,
        timezone=member.timezone,
        email=member.email,
        is_bot=member.is_bot,
    )

"""What a published recognition owes: the public post and a DM to each recipient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from handlers import i18n, messages
from handlers.i18n import n_
from handlers.messages import Template
from handlers.policy import KudosPolicy
from storage import people, queries
from storage.people import MemberRow, Reachable


def person_ref(member: MemberRow) -> dict[str, Any]:
    """How a member appears in an outbox payload: a name, plus ids renderers can mention."""
    return people.person_fields(member)


def dm_route(member: Reachable, prefer: str | None = None) -> tuple[str, str | None, str] | None:
    """(platform, workspace, channel) of a private message to `member`: on `prefer` when
    they use it, else Slack, else Teams (where the channel is their own user id)."""
    order = ("teams", "slack") if prefer == "teams" else ("slack", "teams")
    for platform in order:
        found = people.identity(member, platform)
        if found is not None:
            return platform, *found
    return None


def dm(
    member: Reachable,
    *,
    key: str,
    template: Template,
    data: dict[str, Any],
    prefer: str | None = None,
) -> queries.Message | None:
    """The outbox row of a private message to `member`, or None when they have no chat.
    It is drawn in their language when it is delivered (`locale`); words made here for
    them (a notice's text) are made in it too (`i18n.speaking(member.locale)`)."""
    route = dm_route(member, prefer)
    if route is None:
        return None
    platform, workspace, channel = route
    if member.locale:
        data = {**data, "locale": member.locale}
    return messages.message(
        template, data, key=key, platform=platform, workspace=workspace, channel=channel, kind="dm"
    )


@dataclass(frozen=True)
class Post:
    """What the public post and the recipients' DMs say about a recognition."""

    recognition_id: int
    source: str
    message: str
    values: tuple[str, ...]
    channel_id: str | None
    permalink: str | None = None
    emoji: str | None = None
    platform: str = "slack"  # where it was given: the public post goes there
    private: bool = False  # no public post: the recipients (and managers) only
    # Set when a kudos taken back comes back (a reaction added again): its messages are
    # new ones, keyed apart from those queued (and deleted) before.
    again: str = ""

    def key(self, what: str) -> str:
        """The outbox key of one of its messages: `recognition:{id}:…`, which is what
        taking the kudos back looks for."""
        return f"recognition:{self.recognition_id}:{what}" + (
            f":{self.again}" if self.again else ""
        )


def queue_posts(
    session: Session,
    post: Post,
    giver: MemberRow,
    recipients: list[MemberRow],
    policy: KudosPolicy,
) -> None:
    """Queue the public post and a DM per recipient, on the platform they were given on,
    and their managers' notices when `recognition.notify_manager` is on."""
    queued = post_messages(post, giver, recipients, policy)
    queued += manager_notices(session, post, giver, recipients, policy)
    queries.enqueue_many(session=session, messages=queued)


_QUOTED = 300  # characters of the kudos quoted to a manager


def manager_notices(
    session: Session,
    post: Post,
    giver: MemberRow,
    recipients: list[MemberRow],
    policy: KudosPolicy,
) -> list[queries.Message]:
    """With `policy.notify_manager`, one private message to each recipient's manager naming
    their reports among the recipients, at once rather than in the weekly digest. Not to
    the giver, nor to a manager who is a recipient too (they have their own message)."""
    if not policy.notify_manager:
        return []
    skip = {giver.id, *(r.id for r in recipients)}
    names = {r.id: r.display_name for r in recipients}
    reports: dict[int, tuple[MemberRow, list[str]]] = {}
    found = people.managers_of(session=session, member_ids=[r.id for r in recipients])
    for report_id, manager in found:
        if manager.id not in skip:
            reports.setdefault(manager.id, (manager, []))[1].append(names[report_id])
    notices = []
    for manager, who in reports.values():
        with i18n.speaking(manager.locale):
            text = _manager_text(post, giver, who)
        key = post.key(f"manager:{manager.id}")
        notice = dm(
            manager, key=key, template=Template.NOTICE, data={"text": text}, prefer=post.platform
        )
        if notice is not None:
            notices.append(notice)
    return notices


def _manager_text(post: Post, giver: MemberRow, who: list[str]) -> str:
    """The notice to a manager, in the language spoken now (the manager's)."""
    names = i18n.listed(who)
    if post.source == "reaction":
        return n_(
            "{names}, who reports to you, received kudos from {giver}, with a reaction to "
            "their message.",
            "{names}, who report to you, received kudos from {giver}, with a reaction to "
            "their message.",
            len(who),
            names=names,
            giver=giver.display_name,
        )
    quoted = post.message if len(post.message) <= _QUOTED else post.message[: _QUOTED - 1] + "…"
    return n_(
        "{names}, who reports to you, received kudos from {giver}: “{quoted}”",
        "{names}, who report to you, received kudos from {giver}: “{quoted}”",
        len(who),
        names=names,
        giver=giver.display_name,
        quoted=quoted,
    )


def post_messages(
    post: Post, giver: MemberRow, recipients: list[MemberRow], policy: KudosPolicy
) -> list[queries.Message]:
    """The public post (none for a private kudos) and a DM per recipient, on the platform
    they were given on."""
    data = {
        "recognition_id": post.recognition_id,
        "giver": person_ref(giver),
        "recipients": [person_ref(r) for r in recipients],
        "message": post.message,
        "values": list(post.values),
        "source": post.source,
        "permalink": post.permalink,
        "emoji": post.emoji,
        **({"private": True} if post.private else {}),
    }
    queued: list[queries.Message] = []
    platform = "teams" if post.platform == "teams" else "slack"
    channel = (
        policy.teams_recognition_channel if platform == "teams" else policy.recognition_channel
    ) or post.channel_id
    # Posted only where the giver has an identity, in their workspace there.
    on = people.identity(giver, platform)
    if channel and on is not None and not post.private:
        queued.append(
            messages.message(
                Template.KUDOS_PUBLIC,
                data,
                key=post.key("public"),
                platform=platform,
                workspace=on[0],
                channel=channel,
                kind="post",
            )
        )
    for member in recipients:
        message = dm(
            member,
            key=post.key(f"dm:{member.id}"),
            template=Template.KUDOS_RECEIVED,
            data=data,
            prefer=post.platform,
        )
        if message:
            queued.append(message)
    return queued

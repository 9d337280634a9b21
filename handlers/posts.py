"""What a published recognition owes: the public post and a DM to each recipient."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlmodel import Session

from handlers.policy import KudosPolicy
from storage import queries
from storage.people import MemberRow


def person_ref(member: MemberRow) -> dict[str, Any]:
    """How a member appears in an outbox payload: a name, plus ids renderers can mention."""
    return {
        "name": member.display_name,
        "slack_id": member.slack_user_id,
        "teams_id": member.teams_aad_id,
    }


class Reachable(Protocol):
    """A member row or object: whatever has the chat ids."""

    @property
    def slack_team_id(self) -> str | None: ...
    @property
    def slack_user_id(self) -> str | None: ...
    @property
    def teams_aad_id(self) -> str | None: ...


def dm_route(member: Reachable, prefer: str | None = None) -> tuple[str, str | None, str] | None:
    """(platform, workspace, channel) of a private message to `member`: on `prefer` when
    they use it, else Slack, else Teams (where the channel is their AAD object id)."""
    slack = ("slack", member.slack_team_id, member.slack_user_id) if member.slack_user_id else None
    teams = ("teams", None, member.teams_aad_id) if member.teams_aad_id else None
    order = (teams, slack) if prefer == "teams" else (slack, teams)
    return next((route for route in order if route), None)


def dm(
    member: Reachable, *, key: str, template: str, data: dict[str, Any], prefer: str | None = None
) -> queries.Message | None:
    """The outbox row of a private message to `member`, or None when they have no chat."""
    route = dm_route(member, prefer)
    if route is None:
        return None
    platform, workspace, channel = route
    return queries.Message(
        key=key,
        platform=platform,
        workspace=workspace,
        channel=channel,
        kind="dm",
        template=template,
        data=data,
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


def queue_posts(
    session: Session,
    post: Post,
    giver: MemberRow,
    recipients: list[MemberRow],
    policy: KudosPolicy,
) -> None:
    """Queue the public post and a DM per recipient, on the platform they were given on."""
    data = {
        "recognition_id": post.recognition_id,
        "giver": person_ref(giver),
        "recipients": [person_ref(r) for r in recipients],
        "message": post.message,
        "values": list(post.values),
        "source": post.source,
        "permalink": post.permalink,
        "emoji": post.emoji,
    }
    messages: list[queries.Message] = []
    public = queries.Message(
        key=f"recognition:{post.recognition_id}:public",
        platform="teams" if post.platform == "teams" else "slack",
        workspace=giver.slack_team_id,
        channel="",
        kind="post",
        template="kudos.public",
        data=data,
    )
    if post.platform == "teams":
        channel = policy.teams_recognition_channel or post.channel_id
        if channel and giver.teams_aad_id:
            messages.append(replace(public, workspace=None, channel=channel))
    else:
        channel = policy.recognition_channel or post.channel_id
        if channel and giver.slack_user_id:
            messages.append(replace(public, channel=channel))
    for member in recipients:
        message = dm(
            member,
            key=f"recognition:{post.recognition_id}:dm:{member.id}",
            template="kudos.received",
            data=data,
            prefer=post.platform,
        )
        if message:
            messages.append(message)
    queries.enqueue_many(session=session, messages=messages)

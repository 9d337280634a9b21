"""What a published recognition owes: the public post and a DM to each recipient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from handlers.policy import KudosPolicy
from storage import queries
from storage.people import MemberRow


def person_ref(member: MemberRow) -> dict[str, Any]:
    """How a member appears in an outbox payload: a name, plus ids renderers can mention."""
    return {"name": member.display_name, "slack_id": member.slack_user_id}


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
    channel = policy.recognition_channel or post.channel_id
    if channel and giver.slack_user_id:
        messages.append(
            queries.Message(
                key=f"recognition:{post.recognition_id}:public",
                platform="slack",
                workspace=giver.slack_team_id,
                channel=channel,
                kind="post",
                template="kudos.public",
                data=data,
            )
        )
    for member in recipients:
        if member.slack_user_id:
            messages.append(
                queries.Message(
                    key=f"recognition:{post.recognition_id}:dm:{member.id}",
                    platform="slack",
                    workspace=member.slack_team_id,
                    channel=member.slack_user_id,
                    kind="dm",
                    template="kudos.received",
                    data=data,
                )
            )
    queries.enqueue_many(session=session, messages=messages)

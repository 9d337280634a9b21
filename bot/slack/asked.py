"""What a Slack `/kudos` command asks for, and the drug-safety screen of a text refused
before it becomes a kudos (too long, too fast)."""

from __future__ import annotations

from typing import Any

from bot.chat import screening
from bot.chat.commands import private
from bot.chat.mentions import parse
from bot.runtime import Runtime
from bot.slack.people import SlackPeople
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy


async def command_event(
    people: SlackPeople,
    policy: KudosPolicy,
    command: dict[str, Any],
    team: str,
    giver: Person,
    text: str,
) -> KudosRequested:
    """The kudos a `/kudos` command asks for; the command's trigger keys it, so Slack's
    retries of the same command record nothing twice."""
    hidden, text = private(text)
    parsed = parse(text, policy.values)
    recipients = await people.many(team, parsed.user_ids)
    return KudosRequested(
        key=command_key(command, team),
        giver=giver,
        recipients=recipients,
        message=parsed.message,
        values=parsed.values,
        source="command",
        channel_id=command.get("channel_id"),
        non_people=parsed.groups,
        private=hidden,
    )


def command_key(command: dict[str, Any], team: str) -> str:
    return f"slack:command:{team}:{command.get('trigger_id') or command.get('response_url')}"


async def screened(
    runtime: Runtime, people: SlackPeople, text: str, key: str, team: str, user: str
) -> str:
    """The sentence to add to a refusal when its text went to drug safety, else ""."""
    return await screening.screen(
        runtime,
        text,
        key=key,
        reporter=lambda: people.get(team, user),
        fallback=Person("slack", team, user, user, exists=False),
    )

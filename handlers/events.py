"""Neutral inputs to the use cases, built by the platform adapters in `bot/`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    """A platform identity as the adapter resolved it."""

    platform: str  # slack | teams | email
    workspace: str | None
    user_id: str
    display_name: str
    timezone: str | None = None
    email: str | None = None
    is_bot: bool = False
    deleted: bool = False
    exists: bool = True
    # A guest account, or someone of another organisation (Slack Connect, another tenant):
    # kudos are for colleagues unless `recognition.allow_guests` says otherwise.
    external: bool = False
    # The language the platform reports for them ("de-DE"), when it does.
    locale: str | None = None

    @classmethod
    def by_email(
        cls, email: str, display_name: str, *, timezone: str | None = None, is_bot: bool = False
    ) -> Person:
        """A member known by their roster email, outside any chat platform (CLI, web)."""
        return cls(
            platform="email",
            workspace=None,
            user_id=email,
            display_name=display_name,
            timezone=timezone,
            email=email,
            is_bot=is_bot,
        )


@dataclass(frozen=True)
class KudosRequested:
    """Someone asked to recognise one or more colleagues."""

    key: str  # unique per delivery, so a retry does nothing twice
    giver: Person
    recipients: tuple[Person, ...]
    message: str  # the giver's words, platform markup already turned into plain text
    values: tuple[str, ...]
    source: str  # command | modal | cli
    channel_id: str | None = None
    non_people: tuple[str, ...] = ()  # channels or groups that were mentioned
    # Delivered only to the recipients (and their managers, if they are told): never posted.
    private: bool = False
    # The message the kudos is for (a Slack message shortcut, a Teams message action).
    link: str | None = None


@dataclass(frozen=True)
class ReactionAdded:
    """Someone reacted to a colleague's message with an emoji."""

    key: str
    reactor: Person
    author: Person
    emoji: str
    channel_id: str
    message_ref: str
    permalink: str | None = None


@dataclass(frozen=True)
class ReactionRemoved:
    key: str
    reactor: Person
    emoji: str
    channel_id: str
    message_ref: str


@dataclass(frozen=True)
class CardReaction:
    """Someone reacted to one of the bot's own public kudos posts (in Teams, the only
    reactions a bot is told of); `message_ref` is the id of the bot's post."""

    key: str
    reactor: Person
    emoji: str
    channel_id: str
    message_ref: str

"""One delivered activity as Plaudit handles it, whichever SDK carried it: the activity's
wire JSON, the conversation it came from (as stored), and the connector look-ups the
carrying SDK offers while the turn runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.teams import activity as parsed
from bot.teams.sdk import Lookup
from storage.teams import Conversation


@dataclass
class Turn:
    data: dict[str, Any]
    lookup: Lookup
    conv: Conversation

    @property
    def id(self) -> str:
        return str(self.data.get("id") or "")

    @property
    def sender_id(self) -> str:
        return str(parsed.sender(self.data).get("id") or "")

    @property
    def sender_name(self) -> str:
        return str(parsed.sender(self.data).get("name") or self.sender_id)

    @property
    def locale(self) -> str | None:
        """The sender's locale ("de-DE"), which the turn's answers are written for."""
        return parsed.client_locale(self.data)

    @property
    def value(self) -> Any:
        return self.data.get("value")

    @property
    def channel_data(self) -> Any:
        return self.data.get("channelData")

    @property
    def reply_to_id(self) -> str | None:
        found = self.data.get("replyToId")
        return str(found) if found else None

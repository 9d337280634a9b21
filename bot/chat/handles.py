"""Mentions typed as plain text (`@First Last`, `@email`, `@name`), outside Slack and Teams:
matched against the roster, for kudos given from the terminal or the demo's sandbox."""

from __future__ import annotations

import re
from collections.abc import Sequence

from handlers.events import Person
from storage.models import Member

_EMAIL_MENTION = re.compile(r"@([\w.+\-']+@[\w.\-]+\w)")
_WORD = re.compile(r"[\w.'\-]+")
_NAME_WORD = re.compile(r" ([A-Z][\w'\-]*)")
_JOIN = re.compile(r"(?:[\s,]|\band\b|&)*", re.IGNORECASE)


def person(member: Member) -> Person:
    """A member with an email as the use cases know people outside chat."""
    assert member.email is not None
    return Person.by_email(
        member.email, member.display_name, timezone=member.timezone, is_bot=member.is_bot
    )


class Roster:
    """Active members by display name (longest first, so `@Ana Lopez` beats `@Ana`), by
    email, and by an email's local part or a one-word display name when unambiguous."""

    def __init__(self, members: Sequence[Member]) -> None:
        known = [m for m in members if m.email]
        self.by_name = sorted(
            ((m.display_name.lower(), m) for m in known), key=lambda p: -len(p[0])
        )
        self.by_email = {(m.email or "").lower(): m for m in known}
        words: dict[str, list[Member]] = {}
        for m in known:
            for word in {(m.email or "").split("@")[0].lower(), m.display_name.lower()}:
                if word and " " not in word:
                    words.setdefault(word, []).append(m)
        self.by_word = {w: found[0] for w, found in words.items() if len(found) == 1}

    def at(self, text: str, at: int) -> tuple[Member | None, str, int]:
        """The member mentioned by the `@` at `at`, the handle typed when none is known, and
        where the mention ends."""
        email = _EMAIL_MENTION.match(text, at)
        if email:
            return self.by_email.get(email.group(1).lower()), email.group(1), email.end()
        rest = text[at + 1 :]
        lowered = rest.lower()
        for name, candidate in self.by_name:
            tail = rest[len(name) : len(name) + 1]
            if lowered.startswith(name) and not (tail.isalnum() or tail == "_"):
                return candidate, "", at + 1 + len(name)
        word = _WORD.match(rest)
        handle = word.group(0).rstrip(".'-") if word else ""
        end = at + 1 + len(handle)
        surname = _NAME_WORD.match(text, end) if handle[:1].isupper() else None
        if surname:
            # `@Dana Smith` names someone not on the roster: not `@dana` and "Smith thanks".
            return None, f"{handle} {surname.group(1)}", surname.end()
        return self.by_word.get(handle.lower()), handle, end


def parse(text: str, members: Sequence[Member]) -> tuple[list[Person], str]:
    """The people mentioned and the message after the leading mentions (`@Ana Lopez, @Tom
    Becker and @mei thanks for ...` gives three people and `thanks for ...`): no part of a
    leading mention stays in the message. An unknown `@name` becomes a person who does not
    exist (the use case says so)."""
    roster = Roster(members)
    found: list[Person] = []
    spans: list[tuple[int, int]] = []
    for at in (i for i, c in enumerate(text) if c == "@"):
        if at > 0 and (text[at - 1].isalnum() or text[at - 1] in "._+-"):
            continue  # the @ inside an email address
        if spans and at < spans[-1][1]:
            continue
        member, handle, end = roster.at(text, at)
        if member is not None:
            found.append(person(member))
        elif handle:
            found.append(Person("email", None, handle, handle, exists=False))
        spans.append((at, end))
    pos = 0
    for start, end in spans:
        if _JOIN.fullmatch(text[pos:start]) is None:
            break
        pos = end
    return found, text[pos:].strip(" ,\n\t")

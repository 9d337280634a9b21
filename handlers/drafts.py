"""Edit and resend: a blocked kudos back in the form, for its giver only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from handlers import members
from handlers.events import Person
from storage import people
from storage.models import Recognition, RecognitionRecipient


@dataclass(frozen=True)
class Draft:
    """A blocked kudos to edit: its recipients, its words (or the suggested rewrite), its value."""

    recipients: tuple[Person, ...]  # on the giver's platform; those not on it are left out
    text: str
    value: str | None
    private: bool = False


def draft(recognition_id: int, giver: Person, *, session: Session) -> Draft | None:
    """What to put back in the form when the giver of a blocked kudos edits it."""
    recognition = session.get(Recognition, recognition_id)
    member = members.find(giver, session=session)
    if recognition is None or member is None or recognition.giver_id != member.id:
        return None
    if recognition.outcome != "block":
        return None
    recipient_ids = session.exec(
        select(RecognitionRecipient.member_id)
        .where(RecognitionRecipient.recognition_id == recognition_id)
        .order_by(col(RecognitionRecipient.id))
    )
    recipients: list[Person] = []
    for member_id in recipient_ids:
        row = people.by_id(session=session, member_id=member_id)
        person = members.person_on(row, giver.platform)
        if person is not None:
            recipients.append(person)
    suggestion = next((f["suggestion"] for f in recognition.findings if f.get("suggestion")), None)
    text = suggestion or recognition.text
    value = recognition.value_tags[0] if recognition.value_tags else None
    if value:
        text = " ".join(text.replace(value, " ").split())
    return Draft(tuple(recipients), text, value, recognition.private)

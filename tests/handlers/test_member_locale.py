"""A member's language: the locale their platform last reported is kept, and private
messages to them are drawn in it."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session

from handlers import members, posts
from handlers.clock import FixedClock
from handlers.events import Person
from handlers.messages import Template
from storage.models import Member

ANA = Person("slack", "T0001", "U0ANA", "Ana", timezone="Europe/Madrid", locale="es-ES")


def test_the_platform_locale_is_stored_and_an_unknown_one_changes_nothing(
    session: Session, clock: FixedClock
) -> None:
    (row,) = members.upsert_many([ANA], session=session, now=clock.now())
    assert row.locale == "es-ES"
    # A sighting that says nothing of the language (an event without it) keeps it...
    (row,) = members.upsert_many([replace(ANA, locale=None)], session=session, now=clock.now())
    assert row.locale == "es-ES"
    # ...and a new one replaces it.
    (row,) = members.upsert_many([replace(ANA, locale="it-IT")], session=session, now=clock.now())
    session.commit()
    assert row.locale == "it-IT"
    assert session.get(Member, row.id).locale == "it-IT"  # type: ignore[union-attr]


def test_a_private_message_carries_its_addressee_locale_and_a_post_none(
    session: Session, clock: FixedClock
) -> None:
    (ana,) = members.upsert_many([ANA], session=session, now=clock.now())
    (bob,) = members.upsert_many(
        [Person("slack", "T0001", "U0BOB", "Bob")], session=session, now=clock.now()
    )
    to_ana = posts.dm(ana, key="k1", template=Template.NOTICE, data={"text": "hola"})
    to_bob = posts.dm(bob, key="k2", template=Template.NOTICE, data={"text": "hi"})
    assert to_ana is not None and to_ana.data["locale"] == "es-ES"
    assert to_bob is not None and "locale" not in to_bob.data

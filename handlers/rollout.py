"""Pilot cohorts: who Plaudit is on for, measured without being announced, or held back as a
control group, from the `rollout:` section of `plaudit.yaml`.

A member belongs to at most one cohort: the cohort whose `people` list names them, else the
first listed cohort one of whose teams, regions or therapeutic areas is theirs. A cohort
applies from its start date; before it, and for members of no cohort, `outside` decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol, TypeVar

from sqlmodel import Session, col, select

from handlers import members
from handlers.events import Person
from handlers.i18n import _, listed, n_
from storage.models import Member
from storage.people import MemberRow

CohortMode = Literal["on", "shadow", "control"]
Mode = Literal["on", "shadow", "control", "off"]
GIVES = ("on", "shadow")  # the modes in which a person gives and gets kudos


class Placed(Protocol):
    """What places a member in a cohort (a `Member` row has it)."""

    @property
    def email(self) -> str | None: ...
    @property
    def team(self) -> str | None: ...
    @property
    def region(self) -> str | None: ...
    @property
    def therapeutic_area(self) -> str | None: ...


M = TypeVar("M", bound=Placed)


@dataclass(frozen=True)
class Place:
    """A member's email, team, region and therapeutic area, as the roster gave them."""

    email: str | None = None
    team: str | None = None
    region: str | None = None
    therapeutic_area: str | None = None


@dataclass(frozen=True)
class Cohort:
    id: str
    title: str
    mode: CohortMode
    start: date
    teams: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    therapeutic_areas: tuple[str, ...] = ()
    people: tuple[str, ...] = ()  # emails, lower-case

    def selects(self, member: Placed) -> bool:
        """Whether one of its teams, regions or therapeutic areas is the member's."""
        return (
            (member.team is not None and member.team in self.teams)
            or (member.region is not None and member.region in self.regions)
            or (
                member.therapeutic_area is not None
                and member.therapeutic_area in self.therapeutic_areas
            )
        )


@dataclass(frozen=True)
class Rollout:
    """The cohorts, and what everyone else gets: `on` (as without a rollout) or `off`."""

    cohorts: tuple[Cohort, ...] = ()
    outside: Literal["on", "off"] = "on"

    @property
    def gating(self) -> bool:
        """Whether anyone is treated other than as without a rollout."""
        return bool(self.cohorts) or self.outside == "off"

    def member_of(self, member: Placed) -> Cohort | None:
        """The member's cohort, started or not: named in its people first, then the first
        listed whose selectors match."""
        email = (member.email or "").lower()
        if email:
            for cohort in self.cohorts:
                if email in cohort.people:
                    return cohort
        return next((c for c in self.cohorts if c.selects(member)), None)

    def cohort_of(self, member: Placed, day: date) -> Cohort | None:
        """The member's cohort on `day`; None before it starts (they are outside till then)."""
        cohort = self.member_of(member)
        return cohort if cohort is not None and cohort.start <= day else None

    def mode_for(self, member: Placed, day: date) -> Mode:
        cohort = self.cohort_of(member, day)
        return cohort.mode if cohort is not None else self.outside


def places(session: Session, member_ids: Sequence[int]) -> dict[int, Placed]:
    """Each member's place, as the roster gave it."""
    rows = session.exec(select(Member).where(col(Member.id).in_(list(member_ids))))
    return {m.id: m for m in rows if m.id is not None}


def modes(
    session: Session, rollout: Rollout | None, member_ids: Sequence[int], day: date
) -> dict[int, Mode]:
    """The mode of each member on `day` (everyone `on` without a rollout)."""
    if rollout is None or not rollout.gating:
        return dict.fromkeys(member_ids, "on")
    found = places(session, member_ids)
    return {m: rollout.mode_for(found.get(m, Place()), day) for m in member_ids}


def giver_refusal(
    session: Session,
    rollout: Rollout | None,
    giver: MemberRow | None,
    email: str | None,
    day: date,
) -> tuple[str, str] | None:
    """(reason, message) when Plaudit is not on for the giver (`giver`: their member, None
    when not met yet: then only `email` can place them); asked before anything else."""
    if rollout is None or not rollout.gating:
        return None
    place = places(session, [giver.id]).get(giver.id) if giver else None
    mode = rollout.mode_for(place or Place(email=email), day)
    return None if mode in GIVES else ("rollout", not_on_yet())


@dataclass(frozen=True)
class Gate:
    """What the rollout makes of a kudos: refused (reason, message to the giver), or given
    in `shadow` (recorded and counted, but not announced)."""

    refusal: tuple[str, str] | None = None
    shadow: bool = False


def gate(
    session: Session,
    rollout: Rollout | None,
    giver: MemberRow,
    recipients: Sequence[MemberRow],
    day: date,
) -> Gate:
    """Whether `giver` may recognise `recipients` on `day`. A control group's members are
    told only that Plaudit is not on for them yet, like everyone outside: knowing they are
    the comparison would change what is measured."""
    if rollout is None or not rollout.gating:
        return Gate()
    found = modes(session, rollout, [giver.id, *(r.id for r in recipients)], day)
    if found[giver.id] not in GIVES:
        return Gate(("rollout", not_on_yet()))
    left_out = [r.display_name for r in recipients if found[r.id] not in GIVES]
    if left_out:
        return Gate(("rollout_recipient", not_in_pilot(left_out)))
    return Gate(shadow="shadow" in found.values())


def not_on_yet() -> str:
    return _("Plaudit isn't switched on for you yet: your team joins the pilot later.")


def not_in_pilot(names: Sequence[str]) -> str:
    return n_(
        "{names} isn't in the Plaudit pilot yet, so kudos can't go to them for now.",
        "{names} aren't in the Plaudit pilot yet, so kudos can't go to them for now.",
        len(names),
        names=listed(list(names)),
    )


def surveyed(rollout: Rollout | None, audience: list[M], day: date) -> list[M]:
    """Those of a survey's audience it goes to: everyone Plaudit is on for, control groups
    (surveyed with the same pulse) and shadow cohorts included."""
    if rollout is None or not rollout.gating:
        return audience
    return [m for m in audience if rollout.mode_for(m, day) != "off"]


def survey_refusal(
    session: Session, rollout: Rollout | None, person: Person, day: date
) -> str | None:
    """Why a survey answer from `person` is not taken: Plaudit is off for them."""
    if rollout is None or not rollout.gating:
        return None
    member = members.find(person, session=session)
    if member is None or modes(session, rollout, [member.id], day)[member.id] != "off":
        return None
    return _("Plaudit isn't switched on for you yet, so this survey can't take your answer.")


def coverage(session: Session, rollout: Rollout) -> dict[str, int]:
    """How many active members each cohort covers (started or not), by cohort id."""
    counts = {c.id: 0 for c in rollout.cohorts}
    if not rollout.cohorts:
        return counts
    active = session.exec(
        select(Member).where(col(Member.active).is_(True), col(Member.is_bot).is_(False))
    )
    for member in active:
        cohort = rollout.member_of(member)
        if cohort is not None:
            counts[cohort.id] += 1
    return counts

"""A member's own numbers: kudos this quarter and allowance left today."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from handlers import members
from handlers.clock import Clock, local_date, quarter_bounds
from handlers.events import Person
from handlers.policy import KudosPolicy
from storage import queries
from storage.people import MemberRow


@dataclass(frozen=True)
class Summary:
    received: int
    given: int
    allowance: int
    allowance_left: int


def me(person: Person, *, session: Session, policy: KudosPolicy, clock: Clock) -> Summary:
    return summary(
        members.find(person, session=session), session=session, policy=policy, clock=clock
    )


def summary(
    member: MemberRow | None, *, session: Session, policy: KudosPolicy, clock: Clock
) -> Summary:
    """`me` for a member already found (or None)."""
    if member is None or member.id is None:
        return Summary(0, 0, policy.daily_allowance, policy.daily_allowance)
    now = clock.now()
    start, end = quarter_bounds(now, member.timezone)
    received, given = queries.counted_between(
        session=session, member_id=member.id, start=start, end=end
    )
    used = queries.points_given_on(
        session=session, giver_id=member.id, day=local_date(now, member.timezone)
    )
    return Summary(received, given, policy.daily_allowance, max(policy.daily_allowance - used, 0))

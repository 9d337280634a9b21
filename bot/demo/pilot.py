"""Larkspur's pilot: four teams have Plaudit and Market Access is the control group, surveyed
with the same pulse but given no kudos, so the pulse's team results compare the two."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlmodel import Session

from bot.demo.texts import PUBLISHED
from bot.runtime import Runtime
from handlers import baseline, history, kudos
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.pilots import LONGEST, windows
from handlers.rollout import GIVES, Cohort, Place, Rollout
from storage import directory

START = date(2026, 1, 1)
ROLLOUT = Rollout(
    (
        Cohort(
            "launch-pilot",
            "Launch pilot",
            "on",
            START,
            teams=("Brand", "Digital", "Medical Affairs", "Field"),
        ),
        Cohort(
            "access-control", "Market Access control group", "control", START, ("Market Access",)
        ),
    ),
    outside="off",
)


def givers(runtime: Runtime, people: Sequence[Person], now: datetime) -> list[Person]:
    """Those of `people` Plaudit is on for at `now`: the seeded kudos go between them."""
    plan = runtime.policy.rollout
    if plan is None:
        return list(people)

    def work(s: Session) -> list[Person]:
        placed = {m.email: m for m in directory.every_member(session=s)}
        return [
            p
            for p in people
            if plan.mode_for(placed.get(p.email) or Place(email=p.email), now.date()) in GIVES
        ]

    return runtime.run_sync(work)


def seed_pilot(runtime: Runtime, people: Sequence[Person], rng: random.Random) -> dict[str, int]:
    """The quarter before the pilot and the one after it, so the pilots page compares them:
    the old tool's recognitions and pulse figures imported for everyone (`plaudit import`),
    then kudos through the real use case from the start on, which only the pilot can give."""
    before, after = windows(START, START + LONGEST) or ((START, START), (START, START))
    rows = []
    for n in range(160):
        giver, recipient = rng.sample(list(people), 2)
        day = before[0] + timedelta(days=rng.randrange((before[1] - before[0]).days + 1))
        words, value = rng.choice(PUBLISHED)
        cells = {
            "date": day.isoformat(),
            "giver_email": giver.email or "",
            "recipient_email": recipient.email or "",
            "message": words,
            "value": value,
        }
        rows.append(history.Row(n + 2, cells))  # fmt: skip
    now = datetime.combine(after[1], time(18), UTC)
    imported = runtime.run_sync(
        lambda s: history.import_rows(
            rows, session=s, rules=runtime.rules, policy=runtime.policy, now=now
        )
    )
    figures = [
        baseline.Figure(metric, team, before[0], before[1], Decimal(value), 12)
        for team in ("Brand", "Digital", "Medical Affairs", "Field", "Market Access")
        for metric, value in (("enps", rng.randint(-10, 25)), ("participation", "0.55"))
    ]
    runtime.run_sync(lambda s: baseline.store(figures, session=s, now=now))
    clock = FixedClock(now)
    events = []
    for n in range(240):
        giver, recipient = rng.sample(list(people), 2)
        minutes = rng.randrange((after[1] - after[0]).days * 24 * 60)
        at = datetime.combine(after[0], time(9), UTC) + timedelta(minutes=minutes)
        words, value = rng.choice(PUBLISHED)
        event = KudosRequested(
            key=f"demo:pilot:{n}",
            giver=giver,
            recipients=(recipient,),
            message=f"{words} {value}",
            values=(value,),
            source="cli",
        )
        events.append((at, event))

    def give(s: Session) -> int:
        given = 0
        for at, event in sorted(events, key=lambda pair: pair[0]):
            clock.at = at
            result = kudos.give(
                event, session=s, policy=runtime.policy, clock=clock, rules=runtime.rules
            )
            given += isinstance(result, kudos.Recorded)
        return given

    return {"history": len(imported.imported), "pilot_kudos": runtime.run_sync(give)}

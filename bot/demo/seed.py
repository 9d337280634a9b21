"""Larkspur Pharma, the demo's fictional organisation: its roster, a sprint of kudos, a pulse
survey with monthly rounds, and campaign milestones from its built-in store, all written
through the same use cases as chat and the store sync."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlmodel import Session

from bot.demo import store as demo_store
from bot.demo.kpis import KPI_MILESTONES, seed_kpis
from bot.demo.pilot import ROLLOUT, givers, seed_pilot
from bot.demo.texts import PUBLISHED, STOPPED
from bot.runtime import Runtime
from handlers import kudos, roster, surveys
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.milestones import Milestone
from handlers.policy import KudosPolicy
from storage import directory, queries
from storage.models import Member

DOMAIN = "larkspur.example"
ADMIN = f"helen.marsh@{DOMAIN}"
SEED = 20261201
KUDOS = 400
TEAMS = ("Brand", "Digital", "Medical Affairs", "Market Access", "Field")
REGIONS = {"NA": "America/New_York", "EMEA": "Europe/London", "APAC": "Asia/Singapore"}
AREAS = ("Oncology", "Cardiology", "Neurology")
FUNCTIONS = ("Marketing", "IT", "Medical", "Market access", "Sales", "Regulatory")  # by team
# Helen runs the organisation; the first five after her lead a team each.
NAMES = (
    "Helen Marsh", "Ana Lopez", "Tom Becker", "Grace Okafor", "Ravi Iyer", "Lena Vogel",
    "Marcus Reid", "Sofia Rossi", "Kenji Sato", "Amara Nwosu", "Lucas Martin", "Chloe Dubois",
    "Omar Haddad", "Mei Chen", "Jonas Lind", "Priya Raman", "Diego Alvarez", "Hannah Weiss",
    "Samuel Osei", "Yuki Tanaka", "Isabel Costa", "Noah Fischer", "Leila Karimi", "Ethan Brooks",
    "Nadia Petrova", "Arjun Mehta", "Clara Jansen", "Felix Wagner", "Aisha Bello", "Oliver Grant",
    "Maya Cohen", "Luca Bianchi", "Zara Ahmed", "Daniel Kim", "Elena Popescu", "Kwame Mensah",
    "Sara Lindqvist", "Hugo Moreau", "Ines Ferreira", "Ryan Walsh", "Mina Park", "Pablo Ruiz",
    "Freya Nilsen", "Tariq Aziz", "Julia Novak", "Ben Carter", "Aiko Mori", "Victor Leclerc",
    "Rosa Delgado", "Adam Nowak", "Lily Evans", "Mateo Silva", "Eva Horvat", "Sanjay Patel",
    "Nora Berg", "Kofi Boateng", "Alice Laurent", "Wei Zhang", "Erin Doyle", "Jakob Huber",
)  # fmt: skip
REVIEWERS = ("Grace Okafor", "Omar Haddad")  # Medical Affairs
SAFETY = "Mei Chen"


def email_of(name: str) -> str:
    return f"{name.lower().replace(' ', '.')}@{DOMAIN}"


def policy(base: KudosPolicy) -> KudosPolicy:
    """The organisation's policy with channels to address, so the public posts and the
    drug-safety alerts are queued (they stay in the outbox: the demo has no senders)."""
    return replace(
        base,
        recognition_channel=base.recognition_channel or "C0DEMOKUDOS",
        teams_recognition_channel=base.teams_recognition_channel or "19:demo-kudos@thread.tacv2",
        review_channel=base.review_channel or "C0DEMOREVIEW",
        safety_channel=base.safety_channel or "C0DEMOSAFETY",
        rollout=base.rollout or ROLLOUT,  # Larkspur's pilot and its control group
    )


def _roster() -> list[roster.Row]:
    leads = NAMES[1 : 1 + len(TEAMS)]
    rows = []
    for i, name in enumerate(NAMES):
        region = ("NA", "EMEA", "APAC")[i % 3] if i else "EMEA"
        if i == 0:
            team, manager, roles = "Brand", "", "admin"
        elif name in leads:
            team, manager, roles = TEAMS[leads.index(name)], NAMES[0], ""
        else:
            team = TEAMS[i % len(TEAMS)]
            manager, roles = leads[TEAMS.index(team)], ""
        if name in REVIEWERS:
            team, roles = "Medical Affairs", "reviewer"
        if name == SAFETY:
            team, roles = "Medical Affairs", "safety"
        values = {
            "email": email_of(name),
            "display_name": name,
            "slack_id": f"U0LARK{i:03d}",
            "teams_id": f"00000000-0000-4000-8000-{i:012d}",
            "manager_email": email_of(manager) if manager and manager != name else "",
            "team": team,
            "region": region,
            "therapeutic_area": AREAS[i % len(AREAS)],
            "function": FUNCTIONS[TEAMS.index(team) + (i % 3 == 0)],  # a third: the next one
            "timezone": REGIONS[region],
            "roles": roles,
        }
        rows.append(roster.Row(i + 2, values))
    return rows


def person(member: Member) -> Person:
    assert member.email is not None
    return Person.by_email(member.email, member.display_name, timezone=member.timezone)


# Larkspur's campaign milestones over its built-in store, credited to teams and people.
MILESTONES = (
    Milestone(
        id="care-store-live",
        title="Patient storefront is live",
        source="channel",
        match_name="Larkspur Care*",
        points=36,
        team="Digital",
    ),
    Milestone(
        id="adherence-live",
        title="Adherence promotion is live",
        source="promotion",
        match_name="*adherence*",
        points=24,
        team="Brand",
    ),
    Milestone(
        id="hcp-welcome-200",
        title="200 redemptions of the HCP welcome coupon",
        source="coupon",
        threshold="redemptions",
        at_least=Decimal(200),
        match_name="HCP welcome",
        points=30,
        members=(email_of("Chloe Dubois"), email_of("Marcus Reid")),
    ),
    Milestone(
        id="congress-coupon-100",
        title="100 redemptions of the congress coupon",
        source="coupon",
        threshold="redemptions",
        at_least=Decimal(100),
        match_name="Congress*",
        points=20,
        team="Field",
    ),
    Milestone(
        id="care-store-250-orders",
        title="250 orders on the patient store",
        source="orders",
        threshold="orders",
        at_least=Decimal(250),
        channel_id=demo_store.CARE_STORE,
        points=30,
        team="Market Access",
    ),
    Milestone(
        id="campaign-revenue",
        title="Autumn campaign revenue",
        source="orders",
        threshold="revenue",
        at_least=Decimal(20_000),
        points=5,
        points_per=Decimal(5_000),
        cap=40,
        members=(email_of("Ana Lopez"), email_of("Ravi Iyer")),
    ),
    *KPI_MILESTONES,
)


def seed(runtime: Runtime, *, now: datetime) -> dict[str, Any]:
    """Larkspur Pharma in an empty database: the roster, a sprint's kudos, the pulse
    survey's rounds and the campaign milestones. A database with members already is left as
    it is, except that the pulse survey gets a fresh round once the open one has closed."""
    existing = runtime.run_sync(lambda s: directory.member_count(session=s))
    if existing:
        return {"seeded": False, "members": existing, "open_round": keep_a_round_open(runtime, now)}
    report = runtime.run_sync(lambda s: roster.import_rows(_roster(), session=s, now=now))
    if report.rejected:
        raise RuntimeError(f"demo roster rejected: {report.rejected}")
    people = runtime.run_sync(lambda s: [person(m) for m in directory.every_member(session=s)])
    rng = random.Random(SEED)
    outcomes = _kudos(runtime, givers(runtime, people, now), now=now, rng=rng)
    recognitions = runtime.run_sync(lambda s: queries.recognition_count(session=s))
    answered = _rounds(runtime, people, now=now, rng=rng)
    demo_store.earlier_syncs(runtime, now=now)
    synced = demo_store.sync_store(runtime, MILESTONES, now=now)
    if synced.error:
        raise RuntimeError(f"demo store sync failed: {synced.error}")
    reported = seed_kpis(runtime, now=now, rng=rng)
    piloted = seed_pilot(runtime, people, rng)
    return {
        "seeded": True,
        "members": len(people),
        "recognitions": recognitions,
        "survey_answers": answered,
        "survey_rounds": ROUNDS + 1,
        "open_round": keep_a_round_open(runtime, now),
        "orders": synced.orders_stored,
        "milestones": [a.title for a in (*synced.awarded, *reported.awarded)],
        **piloted,
        **outcomes,
    }


def _kudos(
    runtime: Runtime, people: Sequence[Person], *, now: datetime, rng: random.Random
) -> dict[str, int]:
    """A sprint's kudos through the real use case, a few of them stopped by the gate."""
    clock = FixedClock(now)
    sprint = runtime.policy.sprints.sprint_of(now)
    start = min(sprint.start if sprint else now - timedelta(days=90), now - timedelta(days=7))
    span = (now - timedelta(minutes=5) - start).total_seconds()
    moments = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(KUDOS))
    stopped_at = {KUDOS * (k + 1) // (len(STOPPED) + 1): text for k, text in enumerate(STOPPED)}
    events = []
    for i, at in enumerate(moments):
        giver = rng.choice(people)
        others = [p for p in people if p.user_id != giver.user_id]
        recipients = tuple(rng.sample(others, 2 if rng.random() < 0.1 else 1))
        values: tuple[str, ...] = ()
        if i in stopped_at:
            message = stopped_at[i]
        else:
            words, value = rng.choice(PUBLISHED)
            message, values = f"{words} {value}", (value,)
        event = KudosRequested(
            key=f"demo:{i}",
            giver=giver,
            recipients=recipients,
            message=message,
            values=values,
            source="cli",
        )
        events.append((at, event))
    outcomes: dict[str, int] = {}

    def work(s: Session, batch: Sequence[tuple[datetime, KudosRequested]]) -> None:
        for at, event in batch:
            clock.at = at
            result = kudos.give(
                event, session=s, policy=runtime.policy, clock=clock, rules=runtime.rules
            )
            kind = type(result).__name__.lower()
            outcomes[kind] = outcomes.get(kind, 0) + 1

    for chunk in range(0, len(events), 50):
        runtime.run_sync(partial(work, batch=events[chunk : chunk + 50]))
    return outcomes


PULSE = surveys.Survey(
    id="pulse",
    title="Monthly pulse",
    intro="Two minutes, anonymous.",
    questions=(
        surveys.Question(
            "energy", "scale", "How energised do you feel at work?", ("Drained", "Energised")
        ),
        surveys.Question(
            "enps", "enps", "How likely are you to recommend Larkspur as a place to work?"
        ),
        surveys.Question(
            "blocker",
            "choice",
            "What got in the way most this month?",
            options=("Meetings", "Approvals", "Tools", "Nothing"),
        ),
        surveys.Question("comment", "text", "Anything else?", optional=True),
    ),
    anonymous=True,
    min_responses=5,
    owners=(ADMIN,),
)
COMMENTS = (
    "More time for deep work, please.",
    "The new MLR tracker saves me hours.",
    "Approvals for the congress booth took too long.",
    "Great month for the launch team.",
)
ROUNDS = 4  # closed monthly rounds before the open one
OPEN_FOR = timedelta(days=7)


def _rounds(
    runtime: Runtime, people: Sequence[Person], *, now: datetime, rng: random.Random
) -> int:
    """Monthly closed rounds of the anonymous pulse survey, the mood lifting over the
    months, answered through the same use cases as chat (so results are suppressed the same
    way); then the current round, open, with some answers in."""
    answered = 0
    for month in range(ROUNDS, 0, -1):
        opened_at = now - timedelta(days=30 * month + 2)
        lift = ROUNDS - month  # 0 in the oldest round
        answered += _round(runtime, people, opened_at, lift, 0.7 + 0.05 * lift, rng=rng)
        closed_at = opened_at + OPEN_FOR
        runtime.run_sync(partial(_close_open, now=closed_at))
    answered += _round(runtime, people, now - timedelta(days=2), ROUNDS, 0.3, rng=rng)
    return answered


def _round(
    runtime: Runtime,
    people: Sequence[Person],
    opened_at: datetime,
    lift: int,
    share: float,
    *,
    rng: random.Random,
) -> int:
    result = runtime.run_sync(
        lambda s: surveys.open_round(
            PULSE,
            session=s,
            now=opened_at,
            period=opened_at.date().isoformat(),
            closes_at=opened_at + OPEN_FOR,
        )
    )
    if not isinstance(result, surveys.Opened):
        return 0

    def answer(s: Session, who: Person) -> int:
        energy = min(5, rng.choice((2, 3, 3, 4, 4, 5)) + (rng.random() < 0.2 * lift))
        score = min(10, rng.choice((4, 6, 7, 8, 8, 9, 10)) + (rng.random() < 0.3 * lift))
        picks: list[dict[str, Any]] = [
            {"question_id": "energy", "score": energy},
            {"question_id": "enps", "score": score},
            {"question_id": "blocker", "choices": (rng.choice(PULSE.questions[2].options),)},
        ]
        if rng.random() < 0.3:
            picks.append({"question_id": "comment", "text": rng.choice(COMMENTS)})
        saved = 0
        for pick in picks:
            outcome = surveys.answer(
                surveys.SurveyAnswered(who, result.round_id, **pick),
                session=s,
                now=opened_at + timedelta(days=1),
                rules=runtime.rules,
                policy=runtime.policy,
            )
            saved += isinstance(outcome, surveys.Answered)
        return saved

    return sum(runtime.run_sync(partial(answer, who=who)) for who in people if rng.random() < share)


def _close_open(session: Session, now: datetime) -> int:
    """Close the pulse rounds that are over by `now`, as the scheduler would."""
    closed = 0
    for round_ in surveys.open_rounds(session, PULSE.id):
        if round_.id is not None and round_.closes_at <= now:
            closed += surveys.close_round(round_.id, session=session, now=now) is not None
    return closed


def keep_a_round_open(runtime: Runtime, now: datetime) -> int | None:
    """The open pulse round's id; when the last one has run out (a demo database reused weeks
    later), it is closed and a new one opened, so the sandbox always has one to answer."""

    def work(s: Session) -> int | None:
        _close_open(s, now)
        current = [r for r in surveys.open_rounds(s, PULSE.id) if r.closes_at > now]
        if current:
            return current[-1].id
        opened = surveys.open_round(
            PULSE, session=s, now=now, period=now.date().isoformat(), closes_at=now + OPEN_FOR
        )
        return opened.round_id if isinstance(opened, surveys.Opened) else None

    return runtime.run_sync(work)


def open_round_id(session: Session, now: datetime) -> int | None:
    """The pulse round the sandbox answers: the newest one still open at `now`."""
    current = [r for r in surveys.open_rounds(session, PULSE.id) if r.closes_at > now]
    return current[-1].id if current else None

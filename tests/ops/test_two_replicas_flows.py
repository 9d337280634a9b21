"""Two replicas on one PostgreSQL database: reactions, reviews, surveys, the roster,
milestones, retention and erasure run at both at once and end as one replica would."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.runtime import Runtime
from handlers import kudos, milestones, privacy, reactions, retention, review, roster, surveys
from handlers.events import KudosRequested, Person, ReactionAdded, ReactionRemoved
from handlers.policy import KudosPolicy
from storage.models import (
    BcPromotion,
    Member,
    MilestoneAward,
    Outbox,
    Recognition,
    RecognitionRecipient,
    Review,
    SurveyAnswer,
    SurveyInvite,
)
from tests.conftest import slack_person
from tests.ops.test_two_replicas import (
    POLICY,
    ROUNDS,
    T0,
    TEXT,
    Call,
    asked,
    assert_audit_matches,
    assert_totals_are_a_recount,
    count,
    enrol,
    give,
    in_session,
    outbox_keys,
    person,
    race_sync,
    race_turn,
    shared_database,
    totals,
    two_replicas,
)

Reacting = Callable[[Session], reactions.ReactionResult]
AUTHOR = person("U0AUTH")


@pytest.fixture
def shared(backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Engine:
    return shared_database(backend, request, monkeypatch)


# -- reactions --------------------------------------------------------------------------------


def react(rt: Runtime, key: str, reactor: Person, emoji: str, ts: str) -> Reacting:
    """A kudos emoji on the author's message `ts`, as the Slack listener records it."""
    added = ReactionAdded(key, reactor, AUTHOR, emoji, "C0001", ts, f"https://x.test/{ts}")
    return lambda s: reactions.react(added, session=s, policy=rt.policy, clock=rt.clock)


def unreact(rt: Runtime, key: str, reactor: Person, emoji: str, ts: str) -> Reacting:
    removed = ReactionRemoved(key, reactor, emoji, "C0001", ts)
    return lambda s: reactions.unreact(removed, session=s, policy=rt.policy, clock=rt.clock)


def test_reactions_at_both_replicas_count_once_each_and_come_off_once(shared: Engine) -> None:
    """One reaction delivered to both replicas counts once; two emoji of one person at
    once make one kudos; six people at once make six. Then, while kudos arrive, reactions
    come off at both at once: each once, and the totals still equal a recount."""
    reactors = [person(f"U5{i:03d}") for i in range(8)]
    enrol(shared, [*reactors, AUTHOR])
    with two_replicas(shared) as r:
        a, b = r.both
        for n in range(ROUNDS):
            ts = f"{n}.1"
            calls: list[Call] = [
                (rt, react(rt, f"E{n}", reactors[0], "clap", ts)) for rt in (a, b, a)
            ]
            calls += [(a, react(a, f"E{n}c", reactors[1], "clap", ts))]
            calls += [(b, react(b, f"E{n}t", reactors[1], "tada", ts))]
            calls += [
                (rt, react(rt, f"E{n}:{i}", reactors[i], "clap", ts))
                for i, rt in enumerate((a, b) * 4)
                if i >= 2
            ]
            kinds = Counter(type(x).__name__ for x in race_turn(n, calls))
            assert kinds == Counter(Recorded=8, Duplicate=3), kinds
            with Session(shared) as s:
                key = reactions.message_key(ReactionRemoved("-", reactors[1], "", "C0001", ts))
                both = kudos.find_recognition(s, key)
            assert both is not None and sorted(both.reactions) == ["clap", "tada"]
            calls = [(rt, unreact(rt, f"X{n}", reactors[0], "clap", ts)) for rt in (a, b)]
            calls += [(a, unreact(a, f"X{n}c", reactors[1], "clap", ts))]
            calls += [(b, unreact(b, f"X{n}t", reactors[1], "tada", ts))]
            calls += [
                (rt, give(rt, asked(f"k{n}:{i}", reactors[i], AUTHOR)))
                for i, rt in enumerate(r.both)
            ]
            results = race_turn(n, calls)
            assert len([x for x in results if isinstance(x, reactions.Revoked)]) == 2, results
    with Session(shared) as s:
        live = s.exec(select(Recognition).where(col(Recognition.revoked_at).is_(None))).all()
        author = s.exec(select(Member.id).where(Member.slack_user_id == AUTHOR.user_id)).one()
        board = totals(s)
    assert Counter(x.source for x in live) == Counter(reaction=6 * ROUNDS, command=2 * ROUNDS)
    assert author is not None and board[("2026Q4", "", author)][0] == 8 * ROUNDS
    # Each kudos still given owes its recipient one DM; those taken back owe none (never
    # sent here: no dispatcher runs, so their DMs are dropped, not deleted afterwards).
    assert len(outbox_keys(shared, "kudos.received")) == 8 * ROUNDS
    assert_totals_are_a_recount(shared)
    audited = assert_audit_matches(shared)
    assert audited["kudos.reaction"] == 8 * ROUNDS
    assert audited["kudos.reaction_removed"] == 2 * ROUNDS


# -- reviews ----------------------------------------------------------------------------------

HELD = "great idea to show Cardivex in pregnancy at the booth"
REVIEWED = KudosPolicy(
    recognition_channel="C0KUDOS", review_channel="C0REVIEW", reviewers=("U0REV1", "U0REV2")
)


def decide(rt: Runtime, number: int, who: Person, approve: bool) -> Call:
    reason = None if approve else "claims off label"
    work = partial(review.decide, number, who, approve=approve, reason=reason, now=T0)
    return rt, in_session(partial(work, policy=rt.policy))


def test_two_reviewers_deciding_at_once_one_decision_wins(shared: Engine) -> None:
    """Approve and reject clicked for one held kudos at both replicas at once (each twice):
    one decision is taken, and only its post or its notice is queued."""
    giver, to = person("U0001"), person("U0002")
    reviewers = [slack_person(f"U0REV{i}", f"Reviewer{i}") for i in (1, 2)]
    with two_replicas(shared, REVIEWED) as r:
        for n in range(ROUNDS + 1):
            event = KudosRequested(f"h{n}", giver, (to,), HELD, (), "command", "C0001")
            held = r.a.run_sync(give(r.a, event))
            assert isinstance(held, kudos.Stopped) and held.outcome.value == "hold"
            with Session(shared) as s:
                reviewed = select(Review.id).where(Review.recognition_id == held.recognition_id)
                number = s.exec(reviewed).one()
            assert number is not None
            clicks = [
                decide(rt, number, reviewers[i % 2], (i + n) % 2 == 0)
                for i, rt in enumerate((r.a, r.b, r.a, r.b))
            ]
            results = race_turn(n, clicks)
            won = [x for x in results if isinstance(x, review.Decided)]
            lost = [x for x in results if isinstance(x, review.NotAllowed)]
            assert len(won) == 1 and {x.code for x in lost} == {review.ALREADY_DECIDED}, results
            with Session(shared) as s:
                decided = s.get(Review, number)
                recognition = s.get(Recognition, held.recognition_id)
            assert decided is not None and recognition is not None
            assert decided.status == won[0].status
            assert recognition.outcome == ("pass" if won[0].status == "approved" else "hold")
    public = outbox_keys(shared, "kudos.public")
    with Session(shared) as s:
        statuses = Counter(s.exec(select(Review.status)))
        notices = s.exec(select(Outbox.key).where(col(Outbox.key).like("review:%:rejected")))
        rejections = len(notices.all())
    assert len(public) == len(set(public)) == statuses["approved"]
    assert rejections == statuses["rejected"] == ROUNDS + 1 - statuses["approved"]
    assert_totals_are_a_recount(shared)
    assert_audit_matches(shared)


# -- surveys ----------------------------------------------------------------------------------

PULSE = surveys.Survey(
    id="pulse",
    title="Weekly pulse",
    questions=(surveys.Question("energy", "scale", "How energised?", ("Drained", "Great")),),
    min_responses=1,
    results_channel="C0RESULTS",
)


def add_members(engine: Engine, users: list[str], team: str) -> None:
    with Session(engine) as s:
        for user in users:
            email = f"{user.lower()}@example.com"
            s.add(
                Member(
                    slack_team_id="T0001",
                    slack_user_id=user,
                    email=email,
                    display_name=user,
                    team=team,
                )
            )
        s.commit()


def answer(rt: Runtime, user: str, round_id: int, score: int) -> Call:
    """A click on a score, as the Slack listener records it."""
    event = surveys.SurveyAnswered(person(user), round_id, "energy", score=score)
    later = T0 + timedelta(hours=1)
    work = partial(surveys.answer, event, now=later, rules=rt.rules, policy=rt.policy)
    return rt, in_session(partial(work, secret=rt.survey_secret))


def test_a_survey_round_is_opened_answered_and_closed_once_from_both(shared: Engine) -> None:
    """Both replicas' schedulers open the round, each click reaches both (and people change
    their minds at once), and both close it: one round, one answer per respondent, one
    close with one set of results."""
    users = [f"U3{i:03d}" for i in range(6)]
    add_members(shared, users, "Brand")
    closing = T0 + timedelta(hours=2)
    with two_replicas(shared, survey_secret=b"s" * 32) as r:
        for n in range(ROUNDS):
            opening = partial(surveys.open_round, PULSE, now=T0, period=f"2026-11-2{3 + n}")
            opened = race_turn(n, [(rt, in_session(opening)) for rt in r.both])
            first = [x for x in opened if isinstance(x, surveys.Opened)]
            assert len(first) == 1 and surveys.AlreadyOpen(first[0].round_id) in opened, opened
            round_id = first[0].round_id
            clicks = [
                answer(r.both[(i + k) % 2], user, round_id, score)
                for i, user in enumerate(users)
                for k, score in enumerate((3, 3, 1 + i % 5))
            ]
            answered = race_turn(n, clicks)
            assert all(isinstance(x, surveys.Answered) for x in answered), answered
            assert count(shared, col(SurveyAnswer.id), SurveyAnswer.round_id == round_id) == 6
            closes = partial(surveys.close_round, round_id, now=closing)
            closed = race_turn(n, [(rt, in_session(closes)) for rt in (*r.both, r.a)])
            assert sum(x is not None for x in closed) == 1, closed
    invites = outbox_keys(shared, "survey.invite")
    assert len(invites) == len(set(invites)) == count(shared, col(SurveyInvite.id)) == 6 * ROUNDS
    assert len(outbox_keys(shared, "survey.results")) == ROUNDS  # to the channel: no owners
    audited = assert_audit_matches(shared)
    assert audited["survey.round_opened"] == audited["survey.round_closed"] == ROUNDS


# -- the roster -------------------------------------------------------------------------------

ROSTER = (
    "ceo@lk.test,Morgan Lee,U0CEO0001,,,Leadership,Global,,Europe/London,admin",
    "dana@lk.test,Dana Reyes,U0DANA001,,ceo@lk.test,Digital,EU,Oncology,Europe/Berlin,manager",
    "li@lk.test,Li Wei,,aad-li,dana@lk.test,Digital,APAC,Oncology,Asia/Singapore,",
    *(f"p{i}@lk.test,P {i},U0P{i:06d},,dana@lk.test,Digital,EU,,Europe/Paris," for i in range(9)),
)


def roster_rows(lines: tuple[str, ...]) -> list[roster.Row]:
    cells = [line.split(",") for line in lines]
    return [
        roster.Row(n, dict(zip(roster.COLUMNS[: len(c)], c, strict=True)))  # no `function`
        for n, c in enumerate(cells, 2)
    ]


def test_a_roster_imported_at_both_replicas_at_once_is_imported_once(shared: Engine) -> None:
    """The same file imported at both replicas at once, then a changed one: each person is
    created once and changed once, with one audit entry per file, as one import would."""
    changed = tuple(line.replace(",EU,", ",LATAM,") for line in ROSTER)
    moved = [n for n, line in enumerate(ROSTER, 2) if ",EU," in line]
    with two_replicas(shared) as r:
        for lines, expected in ((ROSTER, "created"), (changed, "updated")):
            work = in_session(partial(roster.import_rows, roster_rows(lines), now=T0))
            reports = race_sync([(rt, work) for rt in r.both])
            assert [report.rejected for report in reports] == [[], []]
            done = Counter(n for report in reports for n in getattr(report, expected))
            wanted = range(2, len(lines) + 2) if expected == "created" else moved
            assert done == Counter(wanted), reports
            again = r.a.run_sync(work)  # the end state is what one import leaves
            assert (again.created, again.updated) == ([], [])
    with Session(shared) as s:
        people = {m.email or "": m for m in s.exec(select(Member))}
    assert len(people) == len(ROSTER)
    managers = {m.manager_id for e, m in people.items() if e.startswith("p")}
    assert managers == {people["dana@lk.test"].id}
    assert assert_audit_matches(shared)["roster.imported"] == 2


# -- milestones -------------------------------------------------------------------------------

LAUNCH = milestones.Milestone("launch", "Launch", "promotion", points=10, team="Brand")


def test_a_milestone_reached_seen_by_both_replicas_is_awarded_once(shared: Engine) -> None:
    """Both replicas' syncs see the same promotion go live at once (twice each): one award,
    one post, its points counted once."""
    add_members(shared, [f"U4{i:03d}" for i in range(3)], "Brand")
    evaluate = partial(
        milestones.evaluate, (LAUNCH,), now=T0, calendar=POLICY.sprints, policy=POLICY
    )
    with two_replicas(shared) as r:
        for n in range(ROUNDS):
            with Session(shared) as s:
                s.add(BcPromotion(id=n + 1, name=f"Spring {n}", status="ENABLED", fetched_at=T0))
                s.commit()
            found = race_sync([(rt, in_session(evaluate)) for rt in (*r.both, *r.both)])
            assert sum(len(x) for x in found) == 1, found
    assert count(shared, col(MilestoneAward.id)) == ROUNDS
    assert len(outbox_keys(shared, "milestone.reached")) == ROUNDS
    with Session(shared) as s:
        points = sum(v[2] for k, v in totals(s).items() if k[1] == "")
    assert points == LAUNCH.points * ROUNDS
    assert_totals_are_a_recount(shared)
    assert_audit_matches(shared)


# -- retention and erasure while kudos arrive -------------------------------------------------

BLOCKED = "the Oncozol email calls it the best treatment"


def test_a_purge_at_both_replicas_while_kudos_arrive_erases_once(shared: Engine) -> None:
    """Stopped texts past their time are purged by both replicas at once while kudos (some
    stopped) arrive at both: erased once, audited once, nothing new touched."""
    keep = retention.Retention(stopped_text_days=30)
    giver, to = person("U0001"), person("U0002")
    purge = partial(retention.purge, retention=keep, now=T0)
    with two_replicas(shared, retention=keep) as r:
        for n in range(ROUNDS):
            r.clock.at = T0 - timedelta(days=40)
            for i in range(3):
                event = KudosRequested(f"o{n}:{i}", giver, (to,), BLOCKED, (), "command")
                assert isinstance(r.a.run_sync(give(r.a, event)), kudos.Stopped)
            r.clock.at = T0
            calls: list[Call] = [(rt, purge) for rt in r.both]
            for i, rt in enumerate((*r.both, *r.both)):
                words = BLOCKED if i % 2 else TEXT
                event = KudosRequested(f"n{n}:{i}", giver, (to,), words, (), "command")
                calls.append((rt, give(rt, event)))
            results = race_turn(n, calls)
            purged = [x.texts for x in results if isinstance(x, retention.Purged)]
            assert sorted(purged) == [0, 3], results
    with Session(shared) as s:
        texts = Counter(
            (key[0], text == retention.ERASED)
            for key, text in s.exec(select(Recognition.dedupe_key, Recognition.text))
        )
    assert texts == Counter({("o", True): 3 * ROUNDS, ("n", False): 4 * ROUNDS})
    assert assert_audit_matches(shared)["retention.purge"] == ROUNDS


def to_eve(key: str, giver: Person, eve: Person) -> KudosRequested:
    words = f"thanks {eve.display_name} for the launch checklist"
    return KudosRequested(key, giver, (eve,), words, (), "command", "C0001")


def test_an_erasure_at_both_replicas_while_kudos_arrive_keeps_nothing(shared: Engine) -> None:
    """A person is erased at both replicas at once while kudos naming them arrive at both.
    Each erasure that happened is audited; no kudos an erased member received, nor a
    message still to send about one, keeps the name; later kudos go to a new member."""
    erased, givers = 0, [person(f"U2{i:03d}") for i in range(4)]
    enrol(shared, givers)
    with two_replicas(shared) as r:
        for n in range(ROUNDS):
            eve = slack_person(f"U0EVE{n}", f"Eve{n}")
            first = r.a.run_sync(give(r.a, to_eve(f"e{n}", person("U0001"), eve)))
            assert isinstance(first, kudos.Recorded)
            erase = partial(privacy.erase, str(eve.email), now=T0)
            calls: list[Call] = [(rt, in_session(erase)) for rt in r.both]
            calls += [
                (rt, give(rt, to_eve(f"e{n}:{i}", givers[i], eve)))
                for i, rt in enumerate((*r.both, *r.both))
            ]
            results = race_sync(calls)
            # A kudos between the two erasures brings the person back as a new member (the
            # address is free again), whom the second erases in turn: as one replica would.
            done = [x for x in results[:2] if x is not None]
            assert done and all(isinstance(x, kudos.Recorded) for x in results[2:]), results
            erased += len(done)
            with Session(shared) as s:
                same = s.exec(select(Member).where(Member.slack_user_id == eve.user_id)).all()
            assert len(same) <= 1 and all(m.active for m in same)
    assert_forgotten(shared, erased)
    assert assert_audit_matches(shared)["privacy.erased"] == erased


def assert_forgotten(engine: Engine, erased: int) -> None:
    """Every erased member is without identity, and nothing of theirs names them."""
    named = re.compile(r"\beve\d\b", re.IGNORECASE)
    with Session(engine) as s:
        gone = s.exec(select(Member).where(col(Member.display_name).like("former member %")))
        members = gone.all()
        received = set(
            s.exec(
                select(RecognitionRecipient.recognition_id).where(
                    col(RecognitionRecipient.member_id).in_([m.id for m in members])
                )
            )
        )
        texts = s.exec(select(Recognition.text).where(col(Recognition.id).in_(received))).all()
        pending = s.exec(select(Outbox.data).where(Outbox.status == "pending")).all()
    assert len(members) == erased
    assert all((m.email, m.slack_user_id, m.active) == (None, None, False) for m in members)
    assert texts and not [t for t in texts if named.search(t)]
    assert not [d for d in pending if named.search(str(d)) and d.get("recognition_id") in received]

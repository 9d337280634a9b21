"""Where messages go when people use Teams, Slack or both; Teams references in storage."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from handlers import kudos, leaderboard, members, posts, review
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage import teams as store
from storage.models import Outbox
from storage.people import MemberRow
from storage.teams import Account

TENANT = "72f988bf-0000-0000-0000-000000000001"


def teams_person(aad: str, name: str) -> Person:
    return Person(
        platform="teams",
        workspace=TENANT,
        user_id=aad,
        display_name=name,
        timezone="Europe/Paris",
        email=f"{name.split()[0].lower()}@contoso.example",
    )


def row(**ids: str | None) -> MemberRow:
    return MemberRow(
        id=1,
        display_name="Pat",
        timezone="UTC",
        email=None,
        is_bot=False,
        slack_team_id=ids.get("slack_team_id"),
        slack_user_id=ids.get("slack_user_id"),
        teams_aad_id=ids.get("teams_aad_id"),
    )


def test_a_private_message_goes_to_the_preferred_platform_when_the_member_is_there() -> None:
    both = row(slack_team_id="T1", slack_user_id="U1", teams_aad_id="aad-1")
    assert posts.dm_route(both) == ("slack", "T1", "U1")
    assert posts.dm_route(both, "teams") == ("teams", None, "aad-1")
    assert posts.dm_route(row(teams_aad_id="aad-1")) == ("teams", None, "aad-1")
    assert posts.dm_route(row(slack_user_id="U1", slack_team_id="T1"), "teams") == (
        "slack",
        "T1",
        "U1",
    )
    assert posts.dm_route(row()) is None


def _outbox(session: Session) -> list[Outbox]:
    return list(session.exec(select(Outbox).order_by(col(Outbox.id))))


def test_a_kudos_given_in_teams_posts_there_and_dms_on_teams(
    session: Session, clock: FixedClock
) -> None:
    channel = "19:7c1e9a3f5b2d4e6a8c0f1b3d5e7a9c2e@thread.tacv2"
    policy = KudosPolicy(teams_recognition_channel=channel)
    adele, megan = teams_person("aad-adele", "Adele Vance"), teams_person("aad-megan", "Megan B")
    event = KudosRequested(
        key="teams:1:100",
        giver=adele,
        recipients=(megan,),
        message="thanks for the site activation email",
        values=(),
        source="command",
        channel_id=None,  # a 1:1 chat: the public card goes to the configured channel
    )
    result = kudos.give(event, session=session, policy=policy, clock=clock)
    assert isinstance(result, kudos.Recorded)
    rows = {(r.platform, r.kind, r.channel, r.template) for r in _outbox(session)}
    assert rows == {
        ("teams", "post", channel, "kudos.public"),
        ("teams", "dm", "aad-megan", "kudos.received"),
    }
    [public] = [r for r in _outbox(session) if r.template == "kudos.public"]
    ids = {p["teams_id"] for p in [public.data["giver"], *public.data["recipients"]]}
    assert ids == {"aad-adele", "aad-megan"}


def test_a_rejected_teams_kudos_is_explained_on_teams(session: Session, clock: FixedClock) -> None:
    policy = KudosPolicy(reviewers=("rita@contoso.example",))
    adele, megan = teams_person("aad-adele", "Adele Vance"), teams_person("aad-megan", "Megan B")
    event = KudosRequested(
        key="teams:1:101",
        giver=adele,
        recipients=(megan,),
        message="for the Neurabel deck for paediatric patients",
        values=(),
        source="command",
        channel_id="conv:7",
    )
    held = kudos.give(event, session=session, policy=policy, clock=clock)
    assert isinstance(held, kudos.Stopped) and held.outcome.value == "hold"
    [(pending, _)] = review.pending(session)
    rita = teams_person("aad-rita", "Rita Reviewer")
    assert pending.id is not None
    decided = review.decide(
        pending.id,
        rita,
        approve=False,
        reason="off-label population",
        session=session,
        policy=policy,
        now=clock.now(),
    )
    assert isinstance(decided, review.Decided)
    [notice] = [r for r in _outbox(session) if r.key.endswith(":rejected")]
    assert (notice.platform, notice.channel, notice.kind) == ("teams", "aad-adele", "dm")


def test_boards_go_to_the_teams_channel_too(session: Session, clock: FixedClock) -> None:
    policy = KudosPolicy()
    sprint = policy.sprints.sprint_of(clock.now())
    assert sprint is not None
    queued = leaderboard.queue_post(
        session,
        sprint,
        key="leaderboard:test",
        channel="C0KUDOS",
        workspace="T1",
        final=False,
        teams_channel="19:abc@thread.tacv2",
    )
    assert queued
    rows = {(r.platform, r.channel, r.key) for r in _outbox(session)}
    assert rows == {
        ("slack", "C0KUDOS", "leaderboard:test"),
        ("teams", "19:abc@thread.tacv2", "leaderboard:test:teams"),
    }
    assert not leaderboard.queue_post(
        session,
        sprint,
        key="leaderboard:test",
        channel="C0KUDOS",
        workspace="T1",
        final=False,
        teams_channel="19:abc@thread.tacv2",
    )


def test_one_person_on_both_platforms_is_one_member(session: Session, clock: FixedClock) -> None:
    slack = Person("slack", "T1", "U1", "Megan", email="Megan@Contoso.example")
    teams = Person("teams", TENANT, "aad-megan", "Megan Bowen", email="megan@contoso.example")
    (first,) = members.upsert_many([slack], session=session, now=clock.now())
    (second,) = members.upsert_many([teams], session=session, now=clock.now())
    assert first.id == second.id
    assert second.slack_user_id == "U1" and second.teams_aad_id == "aad-megan"


def test_conversation_references_are_kept_and_refreshed(
    session: Session, clock: FixedClock
) -> None:
    def save(url: str, when: int) -> int:
        return store.save_conversation(
            session=session,
            conversation_id="a:1chat",
            kind="personal",
            tenant_id=TENANT,
            service_url=url,
            aad_id="aad-megan",
            reference={"serviceUrl": url},
            now=clock.now() + timedelta(minutes=when),
        )

    first = save("https://smba.example/amer/", 0)
    again = save("https://smba.example/emea/", 1)
    assert first == again
    found = store.personal(session=session, aad_id="aad-megan")
    assert found is not None and found.service_url == "https://smba.example/emea/"
    assert found.channel == f"conv:{first}"
    assert store.conversation(session=session, channel=found.channel) == found
    assert store.conversation(session=session, channel="a:1chat") == found
    assert store.conversation(session=session, channel="conv:999") is None
    assert store.any_conversation(session=session, tenant_id="other") is None

    account = Account("29:1megan", "aad-megan", TENANT, "Megan Bowen", "megan@contoso.example")
    store.save_accounts(session=session, accounts=[account], now=clock.now())
    store.save_accounts(
        session=session,
        accounts=[Account("29:1megan", "aad-megan", TENANT, "Megan B.", None)],
        now=clock.now(),
    )
    assert store.accounts(session=session, user_ids=["29:1megan"])["29:1megan"].name == "Megan B."
    assert set(store.accounts_by_aad(session=session, aad_ids=["aad-megan"])) == {"aad-megan"}


def test_a_kudos_from_the_terminal_is_posted_in_slack(session: Session, clock: FixedClock) -> None:
    policy = KudosPolicy(recognition_channel="C0KUDOS")
    ana = Person("slack", "T1", "U1", "Ana", email="ana@example.com")
    dana = Person("slack", "T1", "U2", "Dana", email="dana@example.com")
    members.upsert_many([ana, dana], session=session, now=clock.now())
    event = KudosRequested(
        key="cli:1",
        giver=Person("email", None, "ana@example.com", "Ana", email="ana@example.com"),
        recipients=(Person("email", None, "dana@example.com", "Dana", email="dana@example.com"),),
        message="thanks for the launch checklist",
        values=(),
        source="cli",
    )
    assert isinstance(
        kudos.give(event, session=session, policy=policy, clock=clock), kudos.Recorded
    )
    rows = {(r.platform, r.kind, r.channel) for r in _outbox(session)}
    assert rows == {("slack", "post", "C0KUDOS"), ("slack", "dm", "U2")}

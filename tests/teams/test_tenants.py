"""Teams tenants over HTTP with the fake Bot Connector: a single-tenant app handles only its
own tenant, a multi-tenant one only those PLAUDIT_TEAMS_TENANTS lists; anything else gets a
403 before anything is read or written. A user of another tenant with a reviewer's email
can neither approve a held kudos nor act as her."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.cli.main import main
from bot.settings import Settings
from handlers.policy import KudosPolicy
from storage.models import (
    AuditEntry,
    InboundEvent,
    Member,
    Outbox,
    Recognition,
    Review,
    TeamsConversation,
    TeamsUser,
)
from tests.fakes.bot_connector import (
    ADELE,
    BOT_APP_ID,
    BOT_APP_PASSWORD,
    MEGAN,
    TENANT_ID,
    FakeConnector,
)
from tests.fakes.bot_connector import TeamsUser as FakeUser
from tests.harness import Server, eventually
from tests.teams.test_teams_http import activity, send, teams_server

ELSEWHERE = "0badc0de-0000-4000-8000-000000000002"
THIRD = "0c0ffee0-0000-4000-8000-000000000003"
HELD = "for the Neurabel deck for paediatric patients"
TABLES = (AuditEntry, InboundEvent, Member, Outbox, Recognition, TeamsConversation, TeamsUser)


def counts(engine: Engine) -> dict[str, int]:
    """Rows in every table a turn could touch, once the outbox is delivered (delivery opens
    and remembers 1:1 chats)."""

    def delivered() -> bool:
        with Session(engine) as s:
            return not s.exec(select(Outbox).where(Outbox.status == "pending")).first()

    eventually(delivered, timeout=10)
    with Session(engine) as s:
        return {t.__name__: s.exec(select(func.count()).select_from(t)).one() for t in TABLES}


def in_tenant(body: dict[str, Any], tenant: str, sender: FakeUser | None = None) -> dict[str, Any]:
    """The same activity as if it came from `tenant` (and from `sender`)."""
    out = copy.deepcopy(body)
    out["conversation"]["tenantId"] = tenant
    out["channelData"]["tenant"]["id"] = tenant
    if sender is not None:
        out["from"] = {"id": sender.user_id, "name": sender.name, "aadObjectId": sender.aad_id}
    return out


def held_kudos(connector: FakeConnector) -> dict[str, Any]:
    """Adele's channel kudos to Megan and Alex, in words a compliance reviewer must see."""
    body = activity("message_kudos_channel.json", connector)
    body["text"] = body["text"].replace("for the site activation email #site-activation", HELD)
    return body


def approve(connector: FakeConnector, review_id: int, tenant: str, who: FakeUser) -> dict[str, Any]:
    body = activity("invoke_adaptive_card_action.json", connector, id=f"f:approve:{who.aad_id}")
    body["value"]["action"] = {
        "type": "Action.Execute",
        "verb": "review.approve",
        "data": {"verb": "review.approve", "review_id": review_id},
    }
    return in_tenant(body, tenant, who)


def impostor(connector: FakeConnector, tenant: str) -> FakeUser:
    """Someone in another tenant whose directory gives Megan's address."""
    return connector.add_user(
        "e1e1e1e1-0000-4000-8000-0000000000ee",
        "Megan Bowen",
        MEGAN.email,
        user_id="29:1mallory",
        tenant_id=tenant,
    )


def env_for(fake: FakeConnector, **extra: str) -> dict[str, str]:
    return {
        "MICROSOFT_APP_ID": BOT_APP_ID,
        "MICROSOFT_APP_PASSWORD": BOT_APP_PASSWORD,
        "MICROSOFT_OPENID_METADATA_URL": fake.openid_metadata_url,
        **extra,
    }


@pytest.fixture
def fake(teams_sdk: str) -> Iterator[FakeConnector]:
    connector = FakeConnector(auth=True)
    with connector:
        connector.add_people()
        yield connector


def start(engine: Engine, env: dict[str, str]) -> Server:
    return teams_server(engine, env=env).start()


def signed(server: Server, fake: FakeConnector, body: dict[str, Any]) -> int:
    token = fake.inbound_token(audience=BOT_APP_ID, service_url=fake.service_url)
    return send(server, body, token=token).status_code


def pending_review(engine: Engine) -> Review:
    with Session(engine) as s:
        return s.exec(select(Review)).one()


def megan(engine: Engine) -> Member:
    with Session(engine) as s:
        return s.exec(select(Member).where(Member.email == MEGAN.email)).one()


# -------------------------------------------------------------------- one tenant


@pytest.fixture
def single(file_engine: Engine, fake: FakeConnector) -> Iterator[Server]:
    env = env_for(
        fake,
        MICROSOFT_APP_TENANT_ID=TENANT_ID,
        MICROSOFT_APP_TYPE="SingleTenant",
        MICROSOFT_LOGIN_URL=fake.login_url(TENANT_ID),
    )
    running = start(file_engine, env)
    yield running
    running.stop()


def test_another_tenants_activity_gets_403_and_nothing_is_read_or_written(
    single: Server, fake: FakeConnector, file_engine: Engine
) -> None:
    before = counts(file_engine)
    body = activity("message_kudos_channel.json", fake)

    assert signed(single, fake, in_tenant(body, ELSEWHERE)) == 403
    # Tenant fields that disagree, or none at all, are refused the same way.
    mixed = copy.deepcopy(body)
    mixed["channelData"]["tenant"]["id"] = ELSEWHERE
    assert signed(single, fake, mixed) == 403
    bare = copy.deepcopy(body)
    del bare["conversation"]["tenantId"], bare["channelData"]["tenant"]
    assert signed(single, fake, bare) == 403

    assert counts(file_engine) == before
    assert fake.calls(path_contains="/v3/") == []
    # Its own tenant is served as before.
    assert signed(single, fake, body) == 200
    with Session(file_engine) as s:
        assert len(s.exec(select(Recognition)).all()) == 1


def test_a_same_email_user_of_another_tenant_cannot_approve_or_act_as_the_reviewer(
    single: Server, fake: FakeConnector, file_engine: Engine
) -> None:
    assert signed(single, fake, held_kudos(fake)) == 200
    review = pending_review(file_engine)
    assert review.id is not None
    mallory = impostor(fake, ELSEWHERE)
    before = counts(file_engine)

    assert signed(single, fake, approve(fake, review.id, ELSEWHERE, mallory)) == 403
    as_her = in_tenant(activity("message_kudos_channel.json", fake, id="m2"), ELSEWHERE, mallory)
    assert signed(single, fake, as_her) == 403

    assert pending_review(file_engine).status == "pending"
    assert counts(file_engine) == before
    assert (megan(file_engine).teams_aad_id, megan(file_engine).display_name) == (
        MEGAN.aad_id,
        MEGAN.name,
    )
    # Megan herself, in her own tenant, still decides.
    assert signed(single, fake, approve(fake, review.id, TENANT_ID, MEGAN)) == 200
    eventually(lambda: pending_review(file_engine).status == "approved")


# -------------------------------------------------------------------- several tenants


def test_a_multi_tenant_app_serves_only_the_tenants_it_lists(
    file_engine: Engine, fake: FakeConnector
) -> None:
    env = env_for(
        fake,
        MICROSOFT_APP_TYPE="MultiTenant",
        PLAUDIT_TEAMS_TENANTS=f"{TENANT_ID}, {ELSEWHERE.upper()}",
        MICROSOFT_LOGIN_URL=fake.login_url(),
    )
    running = start(file_engine, env)
    try:
        assert signed(running, fake, held_kudos(fake)) == 200
        review = pending_review(file_engine)
        assert review.id is not None
        before = counts(file_engine)
        body = activity("message_kudos_channel.json", fake, id="m3")
        assert signed(running, fake, in_tenant(body, THIRD)) == 403
        assert counts(file_engine) == before

        # A listed tenant is served, but an address is not an identity: someone there with
        # Megan's email is a member of their own, with no email and no reviewer's rights.
        mallory = impostor(fake, ELSEWHERE)
        assert signed(running, fake, approve(fake, review.id, ELSEWHERE, mallory)) == 200
        assert pending_review(file_engine).status == "pending"
        as_her = in_tenant(
            activity("message_kudos_channel.json", fake, id="m4"), ELSEWHERE, mallory
        )
        assert signed(running, fake, as_her) == 200
        with Session(file_engine) as s:
            theirs = s.exec(select(Member).where(Member.teams_aad_id == mallory.aad_id)).one()
            assert theirs.email is None
            mine = col(Recognition.dedupe_key).endswith(":m4")
            given = s.exec(select(Recognition).where(mine)).one()
            assert given.giver_id == theirs.id
        her = megan(file_engine)
        assert (her.teams_aad_id, her.display_name) == (MEGAN.aad_id, MEGAN.name)
    finally:
        running.stop()


def test_a_multi_tenant_app_will_not_start_without_its_tenant_list(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "PLAUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'plaudit.db'}",
        "PLAUDIT_CONFIG": str(tmp_path / "none.yaml"),
        "MICROSOFT_APP_ID": BOT_APP_ID,
        "MICROSOFT_APP_PASSWORD": BOT_APP_PASSWORD,
        "MICROSOFT_APP_TYPE": "MultiTenant",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PLAUDIT_TEAMS_TENANTS", raising=False)

    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "PLAUDIT_TEAMS_TENANTS is required when MICROSOFT_APP_TYPE is MultiTenant" in err
    assert not (tmp_path / "plaudit.db").exists()


def test_tenant_settings_are_checked_and_shown() -> None:
    base = {"MICROSOFT_APP_ID": BOT_APP_ID, "MICROSOFT_APP_PASSWORD": BOT_APP_PASSWORD}
    multi = Settings.model_validate(
        {**base, "MICROSOFT_APP_TYPE": "MultiTenant", "PLAUDIT_TEAMS_TENANTS": ELSEWHERE}
    )
    assert multi.teams_problem() is None
    assert multi.teams_allowed_tenants == frozenset({ELSEWHERE})
    assert f"MultiTenant, tenant {ELSEWHERE}" in "\n".join(multi.status_lines())
    single = Settings.model_validate({**base, "MICROSOFT_APP_TENANT_ID": TENANT_ID})
    assert single.teams_allowed_tenants == frozenset({TENANT_ID})
    assert f"SingleTenant, tenant {TENANT_ID}" in "\n".join(single.status_lines())
    widened = Settings.model_validate(
        {**base, "MICROSOFT_APP_TENANT_ID": TENANT_ID, "PLAUDIT_TEAMS_TENANTS": ELSEWHERE}
    )
    assert "set MICROSOFT_APP_TYPE=MultiTenant" in str(widened.teams_problem())
    with pytest.raises(ValueError, match="is not a tenant id"):
        Settings.model_validate({**base, "PLAUDIT_TEAMS_TENANTS": "contoso.example"})
    emulator = Settings.model_validate({"PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED": "true"})
    assert emulator.teams_allowed_tenants is None
    assert "any tenant" in "\n".join(emulator.status_lines())


@pytest.mark.parametrize("allow_guests", [False, True], ids=["refused", "guests-allowed"])
def test_a_guest_of_another_tenant_mentioned_in_a_channel_links_to_nobody(
    file_engine: Engine, fake: FakeConnector, allow_guests: bool
) -> None:
    # A shared-channel guest whose own directory gives Adele's address: mentioned by Megan
    # before Adele ever used Teams, they must not take Adele's roster member.
    with Session(file_engine) as s:
        s.add(Member(email=ADELE.email, display_name="Adele (roster)"))
        s.commit()
    guest = fake.add_user(
        "d0d0d0d0-0000-4000-8000-0000000000dd",
        "Adele Vance",
        ADELE.email,
        user_id="29:1guest",
        tenant_id=ELSEWHERE,
    )
    env = env_for(
        fake,
        MICROSOFT_APP_TENANT_ID=TENANT_ID,
        MICROSOFT_APP_TYPE="SingleTenant",
        MICROSOFT_LOGIN_URL=fake.login_url(TENANT_ID),
    )
    policy = KudosPolicy(reviewers=(MEGAN.email,), allow_guests=allow_guests)
    running = teams_server(file_engine, env=env, policy=policy).start()
    try:
        body = activity("message_kudos_channel.json", fake)
        body["from"] = {"id": MEGAN.user_id, "name": MEGAN.name, "aadObjectId": MEGAN.aad_id}
        body["text"] = body["text"].replace("<at>Megan Bowen</at>", "<at>Adele Vance</at>")
        body["entities"][1] = {
            "mentioned": {"id": guest.user_id, "name": guest.name},
            "text": "<at>Adele Vance</at>",
            "type": "mention",
        }
        assert signed(running, fake, body) == 200
    finally:
        running.stop()
    with Session(file_engine) as s:
        adele = s.exec(select(Member).where(Member.email == ADELE.email)).one()
        assert adele.teams_aad_id is None
        theirs = s.exec(select(Member).where(Member.teams_aad_id == guest.aad_id)).first()
        if not allow_guests:  # someone of another organisation: refused, nothing recorded
            assert theirs is None
            assert s.exec(select(func.count()).select_from(Recognition)).one() == 0
            return
        assert theirs is not None and theirs.email is None

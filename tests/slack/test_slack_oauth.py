"""Multi-workspace Slack: the OAuth install flow over real HTTP against a fake
`oauth.v2.access`, each workspace's own bot token, uninstalls, and boards kept apart."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import yaml
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, MetaData, Table, text, update
from sqlmodel import Session, select

from bot.jobs.scheduler import Scheduler
from bot.observability.logs import secrets_of
from bot.runtime import BoardSettings, Runtime
from bot.settings import SLACK_BOT_SCOPES, Settings
from compliance_rules import default_rules
from handlers import kudos as kudos_
from handlers import leaderboard
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.kudos import Recorded
from handlers.policy import KudosPolicy
from handlers.sprints import SprintCalendar
from storage import models, queries
from storage.db import make_engine
from storage.models import AuditEntry, Member, Outbox, SprintSnapshot
from tests.fakes.slack_api import FakeSlack
from tests.harness import SECRET, Server, eventually

PUBLIC = "https://plaudit.example.com"
ACME = ("T0ACME", "Acme Pharma", "xoxb-acme-0001")
BETA = ("T0BETA", "Beta Bio", "xoxb-beta-0002")
STATE_COOKIE = "slack-app-oauth-state"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    # The fake's own single-workspace token is never used here: every token comes from
    # an install.
    fake = FakeSlack(token="xoxb-single-unused", team_id="T0001")
    fake.add_user("U0001", "alice", email="alice@example.com")
    fake.add_user("U0002", "bob", email="bob@example.com")
    # Beta's people; Dana has the same address in both workspaces.
    fake.add_user("U0101", "dana", email="alice@example.com")
    fake.add_user("U0102", "erin", email="erin@example.com")
    with fake:
        yield fake


def start(
    engine: Engine, slack: FakeSlack, policy: KudosPolicy | None = None, **env: str
) -> Server:
    settings = {
        "SLACK_CLIENT_ID": slack.client_id,
        "SLACK_CLIENT_SECRET": slack.client_secret,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.base_url,
        "PLAUDIT_PUBLIC_URL": PUBLIC,
    }
    # No recognition channel: each workspace's kudos are posted where /kudos was used.
    return Server(
        engine, slack_api_url=None, policy=policy or KudosPolicy(), env=settings | env
    ).start()


@pytest.fixture
def server(file_engine: Engine, slack: FakeSlack) -> Iterator[Server]:
    running = start(file_engine, slack)
    yield running
    running.stop()


def begin(server: Server) -> tuple[httpx.Response, str]:
    """GET /slack/install: the redirect and the state it carries."""
    response = httpx.get(f"{server.base_url}/slack/install", follow_redirects=False)
    assert response.status_code == 302, response.text
    query = parse_qs(urlparse(response.headers["location"]).query)
    return response, query["state"][0]


def finish(server: Server, state: str, code: str, *, cookie: str | None = None) -> httpx.Response:
    """Slack sends the installer's browser back with the code and the state."""
    headers = {"Cookie": f"{STATE_COOKIE}={state if cookie is None else cookie}"}
    return httpx.get(
        f"{server.base_url}/slack/oauth_redirect",
        params={"code": code, "state": state},
        headers=headers,
        follow_redirects=False,
    )


def install(server: Server, slack: FakeSlack, workspace: tuple[str, str, str]) -> None:
    team_id, name, token = workspace
    code = f"code-{team_id}"
    slack.add_install(code, team_id=team_id, team_name=name, token=token)
    _, state = begin(server)
    response = finish(server, state, code)
    assert response.status_code == 200, response.text


def rows(engine: Engine, table: str, where: str = "1=1") -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(f"SELECT * FROM {table} WHERE {where}")).mappings())


def kudos(server: Server, team: str, user: str, text_: str, channel: str) -> httpx.Response:
    return server.command(text_, user_id=user, team_id=team, channel_id=channel)


def bearer(call: Any) -> str:
    return str(call.headers.get("authorization", "")).removeprefix("Bearer ")


# -- the install flow ---------------------------------------------------------------------


def test_install_redirects_to_slack_with_client_id_scopes_and_a_stored_state(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    response, state = begin(server)

    location = urlparse(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        "https://slack.com/oauth/v2/authorize"
    )
    query = parse_qs(location.query)
    assert query["client_id"] == [slack.client_id]
    assert query["scope"][0].split(",") == list(SLACK_BOT_SCOPES)
    assert query["redirect_uri"] == [f"{PUBLIC}/slack/oauth_redirect"]
    assert [r["state"] for r in rows(file_engine, "slack_oauth_states")] == [state]
    assert f"{STATE_COOKIE}={state}" in response.headers["set-cookie"]


def test_a_valid_callback_trades_the_code_and_stores_the_installation(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    slack.add_install("code-1", team_id="T0ACME", team_name="Acme <Pharma>", token="xoxb-acme-1")
    _, state = begin(server)

    response = finish(server, state, "code-1")

    assert response.status_code == 200
    assert "Plaudit is now installed in <strong>Acme &lt;Pharma&gt;</strong>" in response.text
    (call,) = slack.calls("oauth.v2.access")
    basic = base64.b64encode(f"{slack.client_id}:{slack.client_secret}".encode()).decode()
    assert call.headers["authorization"] == f"Basic {basic}"
    assert call.args["code"] == "code-1"
    assert call.args["redirect_uri"] == f"{PUBLIC}/slack/oauth_redirect"
    assert httpx.get(f"{server.base_url}/healthz").json()["slack_workspaces"] == 1
    (bot,) = rows(file_engine, "slack_bots")
    assert (bot["team_id"], bot["bot_token"], bot["client_id"]) == (
        "T0ACME",
        "xoxb-acme-1",
        slack.client_id,
    )
    assert [r["team_name"] for r in rows(file_engine, "slack_installations")] == ["Acme <Pharma>"]
    assert rows(file_engine, "slack_oauth_states") == []  # used up


def test_unknown_expired_reused_or_foreign_states_are_refused_and_store_nothing(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    slack.add_install("code-1", team_id="T0ACME", team_name="Acme", token="xoxb-acme-1")

    unknown = finish(server, "made-up-state", "code-1")
    assert unknown.status_code == 401
    assert "expired or was already used" in unknown.text and "/slack/install" in unknown.text

    _, state = begin(server)
    other_browser = finish(server, state, "code-1", cookie="someone-elses-state")
    assert other_browser.status_code == 400
    assert "Plaudit was not installed" in other_browser.text

    with file_engine.begin() as conn:
        conn.execute(
            update(models.slack_oauth_states).values(
                expire_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
            )
        )
    expired = finish(server, state, "code-1")
    assert expired.status_code == 401

    assert slack.calls("oauth.v2.access") == []
    assert rows(file_engine, "slack_bots") == rows(file_engine, "slack_installations") == []

    _, state = begin(server)
    assert finish(server, state, "code-1").status_code == 200
    reused = finish(server, state, "code-1")
    assert reused.status_code == 401
    assert len(slack.calls("oauth.v2.access")) == 1
    assert len(rows(file_engine, "slack_bots")) == 1


def test_a_code_slack_refuses_or_a_cancelled_consent_gets_a_friendly_page(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    _, state = begin(server)
    refused = finish(server, state, "never-issued")
    assert refused.status_code == 401
    assert "the code was refused" in refused.text

    cancelled = httpx.get(
        f"{server.base_url}/slack/oauth_redirect", params={"error": "access_denied"}
    )
    assert cancelled.status_code == 200
    assert "cancelled" in cancelled.text
    assert rows(file_engine, "slack_bots") == []


def test_a_workspace_not_on_the_list_is_refused_and_its_token_revoked(
    file_engine: Engine, slack: FakeSlack
) -> None:
    running = start(file_engine, slack, PLAUDIT_SLACK_WORKSPACES="T0ACME")
    try:
        install(running, slack, ACME)
        slack.add_install("code-b", team_id="T0BETA", team_name="Beta Bio", token=BETA[2])
        _, state = begin(running)
        refused = finish(running, state, "code-b")
    finally:
        running.stop()
    assert refused.status_code == 403
    assert "serves other Slack workspaces" in refused.text
    assert [r["team_id"] for r in rows(file_engine, "slack_bots")] == ["T0ACME"]
    (revoke,) = slack.calls("auth.revoke")
    assert bearer(revoke) == BETA[2]
    assert slack.calls("auth.test")[-1:] and bearer(slack.calls("auth.test")[-1]) == BETA[2]


def test_install_routes_are_off_with_a_single_bot_token(file_engine: Engine) -> None:
    with FakeSlack() as fake:
        running = Server(file_engine, slack_api_url=fake.base_url).start()
        try:
            response = httpx.get(f"{running.base_url}/slack/install", follow_redirects=False)
        finally:
            running.stop()
    assert response.status_code == 404
    assert response.json()["error"] == "slack_install_disabled"


# -- each workspace with its own token ------------------------------------------------------


def test_two_workspaces_are_each_answered_and_posted_to_with_their_own_token(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    install(server, slack, ACME)
    install(server, slack, BETA)
    slack.reset()

    a = kudos(server, "T0ACME", "U0001", "<@U0002|bob> for the launch checklist", "C0ACME")
    b = kudos(server, "T0BETA", "U0101", "<@U0102|erin> for the site activation plan", "C0BETA")

    assert a.status_code == 200 and "Kudos recorded for bob" in a.json()["text"]
    assert b.status_code == 200 and "Kudos recorded for erin" in b.json()["text"]
    acme, beta = "xoxb-acme-0001", "xoxb-beta-0002"
    lookups = {(c.args["user"], bearer(c)) for c in slack.calls("users.info")}
    assert lookups == {("U0001", acme), ("U0002", acme), ("U0101", beta), ("U0102", beta)}
    # Each kudos: the public post where it was given and a DM to the recipient.
    slack.wait_for("chat.postMessage", 4)
    sent = {(c.args["channel"], bearer(c)) for c in slack.calls("chat.postMessage")}
    assert sent == {("C0ACME", acme), ("U0002", acme), ("C0BETA", beta), ("U0102", beta)}
    with Session(file_engine) as s:
        spaces = {(r.channel, r.workspace) for r in s.exec(select(Outbox)).all()}
    assert spaces == {
        ("C0ACME", "T0ACME"),
        ("U0002", "T0ACME"),
        ("C0BETA", "T0BETA"),
        ("U0102", "T0BETA"),
    }


def test_outbox_rows_carry_the_token_of_their_workspace(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    install(server, slack, ACME)
    install(server, slack, BETA)
    slack.reset()
    with Session(file_engine) as s:
        for team, channel in (("T0ACME", "C0A1"), ("T0BETA", "C0B1"), ("T0GONE", "C0G1")):
            queries.enqueue(
                session=s,
                message=queries.Message(
                    key=f"test:{team}",
                    platform="slack",
                    workspace=team,
                    channel=channel,
                    kind="post",
                    template="notice",
                    data={"text": f"hello {team}"},
                ),
            )
        s.commit()
    server.runtime.poke()

    slack.wait_for("chat.postMessage", 2)
    tokens = {c.args["channel"]: bearer(c) for c in slack.calls("chat.postMessage")}
    assert tokens == {"C0A1": "xoxb-acme-0001", "C0B1": "xoxb-beta-0002"}

    def gone_is_dead() -> bool:
        with Session(file_engine) as s:
            row = s.exec(select(Outbox).where(Outbox.key == "test:T0GONE")).one()
            return row.status == "dead"

    eventually(gone_is_dead)
    with Session(file_engine) as s:
        row = s.exec(select(Outbox).where(Outbox.key == "test:T0GONE")).one()
    assert row.last_error == "Plaudit is not installed in Slack workspace T0GONE"


def _queue(engine: Engine, key: str, team: str | None, channel: str) -> None:
    with Session(engine) as s:
        queries.enqueue(
            session=s,
            message=queries.Message(
                key=key,
                platform="slack",
                workspace=team,
                channel=channel,
                kind="post",
                template="notice",
                data={"text": key},
            ),
        )
        s.commit()


def test_the_organisations_channels_go_with_the_home_workspaces_token(
    file_engine: Engine, slack: FakeSlack
) -> None:
    policy = KudosPolicy(review_channel="C0REVIEW", safety_channel="C0SAFETY")
    running = start(file_engine, slack, policy, PLAUDIT_SLACK_HOME_WORKSPACE="T0ACME")
    try:
        install(running, slack, ACME)
        install(running, slack, BETA)
        slack.reset()
        _queue(file_engine, "review", "T0BETA", "C0REVIEW")  # a kudos held in Beta
        _queue(file_engine, "safety", "T0BETA", "C0SAFETY")
        _queue(file_engine, "nowhere", None, "C0SPRINT")
        _queue(file_engine, "beta", "T0BETA", "C0BETA")
        running.runtime.poke()
        slack.wait_for("chat.postMessage", 4)
    finally:
        running.stop()
    tokens = {c.args["channel"]: bearer(c) for c in slack.calls("chat.postMessage")}
    assert tokens == {
        "C0REVIEW": ACME[2],
        "C0SAFETY": ACME[2],
        "C0SPRINT": ACME[2],
        "C0BETA": BETA[2],
    }


def test_a_survey_audience_from_the_command_line_is_read_in_the_home_workspace(
    server: Server, slack: FakeSlack
) -> None:
    from bot.cli.main import UsageError, _channel_members

    install(server, slack, ACME)
    slack.set_channel_members("C0PULSE", ["U0001", "U0002", "U0003"])
    env = {
        "SLACK_CLIENT_ID": slack.client_id,
        "SLACK_CLIENT_SECRET": slack.client_secret,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.base_url,
        "PLAUDIT_PUBLIC_URL": PUBLIC,
    }
    home = _settings(**env, PLAUDIT_SLACK_HOME_WORKSPACE="T0ACME")
    assert _channel_members(home, "C0PULSE", server.runtime) == ["U0001", "U0002", "U0003"]
    assert {bearer(c) for c in slack.calls("conversations.members")} == {ACME[2]}
    with pytest.raises(UsageError, match="PLAUDIT_SLACK_HOME_WORKSPACE"):
        _channel_members(_settings(**env), "C0PULSE", server.runtime)
    elsewhere = _settings(**env, PLAUDIT_SLACK_HOME_WORKSPACE="T0BETA")
    with pytest.raises(UsageError, match="not installed in Slack workspace T0BETA"):
        _channel_members(elsewhere, "C0PULSE", server.runtime)


# -- boards --------------------------------------------------------------------------------


def _give_in_both(server: Server, slack: FakeSlack) -> None:
    install(server, slack, ACME)
    install(server, slack, BETA)
    for team, giver, text_, channel in (
        ("T0ACME", "U0001", "<@U0002|bob> for the launch checklist", "C0ACME"),
        ("T0BETA", "U0102", "<@U0101|dana> for the site activation plan", "C0BETA"),
    ):
        response = kudos(server, team, giver, text_, channel)
        assert "Kudos recorded" in response.json()["text"], response.text


def board_text(server: Server, team: str, user: str) -> str:
    response = kudos(server, team, user, "leaderboard", "C0X")
    assert response.status_code == 200
    return str(response.json()["text"])


def test_leaderboards_and_personal_numbers_keep_workspaces_apart(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    _give_in_both(server, slack)

    acme = board_text(server, "T0ACME", "U0001")
    beta = board_text(server, "T0BETA", "U0102")
    bob, dana = "<@U0002>", "<@U0101>"
    assert bob in acme and dana not in acme
    assert dana in beta and bob not in beta

    # Dana (Beta) has Alice's (Acme) address: two members, not one with two identities.
    with Session(file_engine) as s:
        members = {
            (m.slack_team_id, m.slack_user_id): m.email for m in s.exec(select(Member)).all()
        }
    assert members[("T0ACME", "U0001")] == "alice@example.com"
    assert members[("T0BETA", "U0101")] is None
    me_alice = kudos(server, "T0ACME", "U0001", "me", "C0X").json()["text"]
    me_dana = kudos(server, "T0BETA", "U0101", "me", "C0X").json()["text"]
    assert "you received 0 and gave 1 kudos" in me_alice
    assert "you received 1 and gave 0 kudos" in me_dana


def test_one_organisation_shares_the_boards(file_engine: Engine, slack: FakeSlack) -> None:
    running = start(file_engine, slack, PLAUDIT_SLACK_ORGANISATION="single")
    try:
        _give_in_both(running, slack)
        acme = board_text(running, "T0ACME", "U0001")
    finally:
        running.stop()
    assert "<@U0002>" in acme and "<@U0101>" in acme


# -- uninstalls ----------------------------------------------------------------------------


def _pending(engine: Engine, team: str, key: str) -> None:
    with Session(engine) as s:
        queries.enqueue(
            session=s,
            message=queries.Message(
                key=key,
                platform="slack",
                workspace=team,
                channel="C0LATER",
                kind="post",
                template="notice",
                data={"text": "later"},
            ),
        )
        s.commit()
        # Not due yet, so the dispatcher leaves it for now.
        s.connection().execute(
            update(Outbox.__table__)  # type: ignore[attr-defined]
            .where(Outbox.__table__.c.key == key)  # type: ignore[attr-defined]
            .values(next_attempt_at=datetime.now(UTC) + timedelta(hours=1))
        )
        s.commit()


def _event(team: str, event: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": "x",
        "team_id": team,
        "api_app_id": "A0001",
        "type": "event_callback",
        "event_id": f"Ev{time.monotonic_ns()}",
        "event_time": int(time.time()),
        "event": event,
    }


@pytest.mark.parametrize(
    "event",
    [
        {"type": "app_uninstalled"},
        {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT"]}},
    ],
    ids=["app_uninstalled", "tokens_revoked"],
)
def test_an_uninstall_deletes_the_installation_and_gives_up_its_queued_messages(
    server: Server, slack: FakeSlack, file_engine: Engine, event: dict[str, Any]
) -> None:
    install(server, slack, ACME)
    install(server, slack, BETA)
    _pending(file_engine, "T0ACME", "later:acme")
    _pending(file_engine, "T0BETA", "later:beta")

    response = server.event(_event("T0ACME", event))

    assert response.status_code == 200
    assert rows(file_engine, "slack_bots", "team_id = 'T0ACME'") == []
    assert rows(file_engine, "slack_installations", "team_id = 'T0ACME'") == []
    assert len(rows(file_engine, "slack_bots", "team_id = 'T0BETA'")) == 1
    with Session(file_engine) as s:
        acme = s.exec(select(Outbox).where(Outbox.key == "later:acme")).one()
        beta = s.exec(select(Outbox).where(Outbox.key == "later:beta")).one()
    assert acme.status == "dead"
    assert acme.last_error == "slack workspace T0ACME uninstalled Plaudit"
    assert beta.status == "pending"
    with Session(file_engine) as s:
        (audit,) = s.exec(select(AuditEntry).where(AuditEntry.action == "workspace.uninstalled"))
    assert (audit.subject, audit.detail) == ("slack:T0ACME", {"outbox_dead": 1})


def test_a_revoked_user_token_alone_changes_nothing(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    install(server, slack, ACME)
    _pending(file_engine, "T0ACME", "later:acme")
    event = {"type": "tokens_revoked", "tokens": {"oauth": ["U0001"], "bot": []}}
    assert server.event(_event("T0ACME", event)).status_code == 200
    assert len(rows(file_engine, "slack_bots")) == 1
    with Session(file_engine) as s:
        assert s.exec(select(Outbox.status).where(Outbox.key == "later:acme")).one() == "pending"


# -- settings and schema ---------------------------------------------------------------------


def _settings(**env: str) -> Settings:
    return Settings.model_validate({"PLAUDIT_CONFIG": "/nonexistent.yaml", **env})


def test_multi_workspace_settings() -> None:
    oauth = {
        "SLACK_CLIENT_ID": "1111.2222",
        "SLACK_CLIENT_SECRET": "a-real-client-secret",
        "SLACK_SIGNING_SECRET": SECRET,
        "PLAUDIT_PUBLIC_URL": PUBLIC,
    }
    ok = _settings(**oauth)
    assert ok.slack_multi_workspace and ok.slack_enabled and ok.slack_isolated
    assert ok.slack_problem() is None
    assert ok.slack_redirect_uri == f"{PUBLIC}/slack/oauth_redirect"
    assert "a-real-client-secret" in secrets_of(ok)
    assert any("multi-workspace" in line for line in ok.status_lines())

    both = _settings(**oauth, SLACK_BOT_TOKEN="xoxb-1")
    assert not both.slack_multi_workspace
    assert "not both" in (both.slack_problem() or "")
    assert "PLAUDIT_PUBLIC_URL" in (
        _settings(**{k: v for k, v in oauth.items() if k != "PLAUDIT_PUBLIC_URL"}).slack_problem()
        or ""
    )
    assert "go together" in (_settings(SLACK_CLIENT_ID="1111.2222").slack_problem() or "")
    assert not _settings(**oauth, PLAUDIT_SLACK_ORGANISATION="single").slack_isolated
    assert _settings(PLAUDIT_SLACK_WORKSPACES=" T0A1, T0B2 ").slack_allowed_workspaces == {
        "T0A1",
        "T0B2",
    }
    for bad in (
        {"PLAUDIT_SLACK_WORKSPACES": "T0A1,acme"},
        {"SLACK_CLIENT_ID": "my-app"},
        {"SLACK_CLIENT_SECRET": "changeme"},
        {"PLAUDIT_SLACK_HOME_WORKSPACE": "general"},
        {"PLAUDIT_SLACK_ORGANISATION": "merged"},
    ):
        with pytest.raises(ValueError):
            _settings(**bad)


def test_default_scopes_are_the_manifests_bot_scopes() -> None:
    root = Path(__file__).resolve().parents[2]
    manifest = yaml.safe_load((root / "app_manifest.yaml").read_text(encoding="utf-8"))
    assert set(SLACK_BOT_SCOPES) == set(manifest["oauth_config"]["scopes"]["bot"])
    assert _settings().slack_scopes.split(",") == list(SLACK_BOT_SCOPES)


def _shape(table: Table) -> list[tuple[str, str, bool, bool]]:
    return [(c.name, repr(c.type), bool(c.nullable), bool(c.primary_key)) for c in table.columns]


def test_our_oauth_tables_are_the_ones_slack_sdk_reads_and_writes() -> None:
    theirs = MetaData()
    pairs = [
        (
            models.slack_installations,
            SQLAlchemyInstallationStore.build_installations_table(theirs, "slack_installations"),
        ),
        (models.slack_bots, SQLAlchemyInstallationStore.build_bots_table(theirs, "slack_bots")),
        (
            models.slack_oauth_states,
            SQLAlchemyOAuthStateStore.build_oauth_states_table(theirs, "slack_oauth_states"),
        ),
    ]
    for ours, sdk in pairs:
        assert _shape(ours) == _shape(sdk), ours.name
        assert {tuple(c.name for c in i.columns) for i in ours.indexes} == {
            tuple(c.name for c in i.columns) for i in sdk.indexes
        }


def test_the_install_pages_say_nothing_of_tokens(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    slack.add_install("code-1", team_id="T0ACME", team_name="Acme", token="xoxb-acme-1")
    _, state = begin(server)
    page = finish(server, state, "code-1")
    assert "xoxb" not in page.text and page.headers["content-type"].startswith("text/html")
    assert json.dumps(page.headers.get("cache-control")) == '"no-store"'


def test_a_reinstall_with_a_new_token_is_picked_up_by_a_sender_that_cached_the_old_one(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    install(server, slack, ACME)
    _now(file_engine, "T0ACME", "first")
    slack.wait_for("chat.postMessage", 1)
    # Installed again (new scopes, say): Slack issues a new token and the old one stops.
    slack.revoke(ACME[2])
    install(server, slack, ("T0ACME", "Acme Pharma", "xoxb-acme-new"))
    slack.reset()

    _now(file_engine, "T0ACME", "second")
    server.runtime.poke()

    calls = slack.wait_for("chat.postMessage", 2)
    assert [bearer(c) for c in calls] == [ACME[2], "xoxb-acme-new"]
    with Session(file_engine) as s:
        row = s.exec(select(Outbox).where(Outbox.key == "now:second")).one()
    eventually(lambda: _status(file_engine, "now:second") == "delivered")
    assert row.workspace == "T0ACME"


def _now(engine: Engine, team: str, name: str) -> None:
    with Session(engine) as s:
        queries.enqueue(
            session=s,
            message=queries.Message(
                key=f"now:{name}",
                platform="slack",
                workspace=team,
                channel="C0NOW",
                kind="post",
                template="notice",
                data={"text": name},
            ),
        )
        s.commit()


def _status(engine: Engine, key: str) -> str:
    with Session(engine) as s:
        return s.exec(select(Outbox.status).where(Outbox.key == key)).one()


# -- boards posted on a schedule (use cases, no HTTP) ------------------------------------------


def _member_of(team: str, user: str, name: str) -> Person:
    return Person("slack", team, user, name, "UTC", f"{name.lower()}@{team.lower()}.example")


def _give(session: Session, clock: FixedClock, key: str, giver: Person, *to: Person) -> None:
    event = KudosRequested(
        key=key,
        giver=giver,
        recipients=to,
        message="thanks for the launch checklist",
        values=(),
        source="command",
        channel_id="C0GENERAL",
    )
    policy = KudosPolicy(min_message_length=0)
    assert isinstance(kudos_.give(event, session=session, policy=policy, clock=clock), Recorded)
    session.commit()


def _names(payload: dict[str, Any]) -> list[str]:
    return [row["name"] for row in payload["person"]["rows"]]


def test_a_board_posted_for_one_workspace_shows_its_people_only(
    session: Session, clock: FixedClock
) -> None:
    ann, ben = _member_of("T0ACME", "U0001", "Ann"), _member_of("T0ACME", "U0002", "Ben")
    cy, di = _member_of("T0BETA", "U0101", "Cy"), _member_of("T0BETA", "U0102", "Di")
    _give(session, clock, "k1", ann, ben)
    _give(session, clock, "k2", cy, di)
    sprint = SprintCalendar().sprint_of(clock.now())
    assert sprint is not None

    everyone = leaderboard.board(session, sprint)
    assert {r.name for r in everyone.rows} == {"Ben", "Di"}
    acme = leaderboard.board(session, sprint, workspace="T0ACME")
    assert [(r.name, r.points) for r in acme.rows] == [("Ben", 1)]
    givers = leaderboard.board(session, sprint, by="givers", workspace="T0BETA")
    assert [r.name for r in givers.rows] == ["Cy"]

    leaderboard.queue_post(
        session,
        sprint,
        key="board:update",
        channel="C0BOARD",
        workspace="T0ACME",
        final=False,
        teams_channel="19:board@thread.tacv2",
        only_workspace="T0ACME",
    )
    leaderboard.close_sprint(
        session,
        sprint,
        now=sprint.end,
        rules={},
        channel="C0BOARD",
        workspace="T0ACME",
        teams_channel="19:board@thread.tacv2",
        only_workspace="T0ACME",
    )
    session.commit()
    posts = {row.key: row for row in session.exec(select(Outbox)).all()}
    assert _names(posts["board:update"].data) == ["Ben"]
    assert set(_names(posts["board:update:teams"].data)) == {"Ben", "Di"}
    final = f"leaderboard:{sprint.id}:final"
    assert _names(posts[final].data) == ["Ben"] and posts[final].workspace == "T0ACME"
    assert set(_names(posts[final + ":teams"].data)) == {"Ben", "Di"}
    snapshot = session.exec(select(SprintSnapshot)).one()
    frozen = snapshot.data["boards"]["person"]["rows"]
    assert {row["name"] for row in frozen} == {"Ben", "Di"}  # the record keeps everyone


def test_the_command_line_board_of_one_workspace(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("PLAUDIT_CONFIG", "/nonexistent.yaml")
    main(["db", "upgrade"])
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with Session(engine) as s:
        _give(s, clock, "k1", _member_of("T0ACME", "U1", "Ann"), _member_of("T0ACME", "U2", "Ben"))
        _give(s, clock, "k2", _member_of("T0BETA", "U3", "Cy"), _member_of("T0BETA", "U4", "Di"))
    engine.dispose()
    sprint = SprintCalendar().sprint_of(clock.now())
    assert sprint is not None
    capsys.readouterr()

    assert main(["leaderboard", "--sprint", sprint.id, "--workspace", "T0BETA", "--json"]) == 0
    assert [r["display_name"] for r in json.loads(capsys.readouterr().out)] == ["Di"]
    assert main(["leaderboard", "--sprint", sprint.id, "--json"]) == 0
    assert {r["display_name"] for r in json.loads(capsys.readouterr().out)} == {"Ben", "Di"}


@pytest.mark.parametrize("home", ["T0ACME", None])
def test_the_closing_board_in_slack_shows_the_home_workspace_or_is_not_posted(
    file_engine: Engine, home: str | None
) -> None:
    given = FixedClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    with Session(file_engine) as s:
        _give(s, given, "k1", _member_of("T0ACME", "U1", "Ann"), _member_of("T0ACME", "U2", "Ben"))
        _give(s, given, "k2", _member_of("T0BETA", "U3", "Cy"), _member_of("T0BETA", "U4", "Di"))
    runtime = Runtime(
        engine=file_engine,
        policy=KudosPolicy(),
        rules=default_rules(),
        clock=FixedClock(datetime(2027, 1, 2, 9, 0, tzinfo=UTC)),
        boards=BoardSettings(channel="C0BOARD", slack_workspace=home, slack_only=True),
        digests=None,
    )
    try:
        asyncio.run(Scheduler(runtime).sweep())
    finally:
        runtime.close()
    with Session(file_engine) as s:
        posts = s.exec(select(Outbox).where(Outbox.template == "leaderboard.post")).all()
        snapshot = s.exec(select(SprintSnapshot)).one()
    assert len(snapshot.data["boards"]["person"]["rows"]) == 2  # frozen for everyone
    if home is None:
        assert posts == []
    else:
        (post,) = posts
        assert (post.workspace, post.channel, _names(post.data)) == ("T0ACME", "C0BOARD", ["Ben"])

"""Bot Connector tokens from an authority other than Microsoft's public login, through MSAL:
one token per app shared by every connector client, fetched in a worker thread while the
event loop keeps running, a slow authority holding up no other, refusals told as
PermissionError, and plain HTTP sent only to this machine."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from bot.teams.sdk.botbuilder_auth import (
    SCOPE,
    TokenEndpointCredentials,
    TokenEndpointCredentialsFactory,
)
from tests.fakes.bot_connector import BOT_APP_ID, BOT_APP_PASSWORD, TENANT_ID, FakeConnector

TOKEN_PATH = "/oauth2/v2.0/token"


@pytest.fixture
def fake() -> Iterator[FakeConnector]:
    with FakeConnector(auth=True) as connector:
        yield connector


def factory(password: str = BOT_APP_PASSWORD) -> TokenEndpointCredentialsFactory:
    return TokenEndpointCredentialsFactory(BOT_APP_ID, password, TENANT_ID)


async def credentials(
    fake: FakeConnector, tenant: str = TENANT_ID, password: str = BOT_APP_PASSWORD
) -> TokenEndpointCredentials:
    made = await factory(password).create_credentials(
        BOT_APP_ID, SCOPE, fake.login_url(tenant), True
    )
    assert isinstance(made, TokenEndpointCredentials)
    return made


def test_one_token_serves_every_connector_client_until_a_refresh(fake: FakeConnector) -> None:
    first = asyncio.run(credentials(fake))
    second = asyncio.run(credentials(fake))
    token = first.get_access_token()
    assert fake.issued_tokens == [token] and second.get_access_token() == token
    assert first.signed_session().headers["Authorization"] == f"Bearer {token}"
    # MSAL read the authority's discovery document, then asked its token endpoint once.
    assert fake.calls("GET", f"/{TENANT_ID}/v2.0/.well-known/openid-configuration")
    (asked,) = fake.calls("POST", TOKEN_PATH)
    assert asked.body["grant_type"] == "client_credentials"
    assert asked.body["scope"] == f"{SCOPE}/.default"
    renewed = second.get_access_token(force_refresh=True)
    assert renewed != token and fake.issued_tokens == [token, renewed]


def test_the_token_is_fetched_while_the_event_loop_keeps_running(fake: FakeConnector) -> None:
    fake.delay(0.6, path_contains=TOKEN_PATH)

    async def scenario() -> tuple[float, float, float]:
        gaps: list[float] = []

        async def tick() -> None:
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        started = time.monotonic()
        made = await credentials(fake)
        took = time.monotonic() - started
        before = time.monotonic()
        made.get_access_token()  # what botbuilder calls on the loop: already there
        on_loop = time.monotonic() - before
        ticker.cancel()
        return took, max(gaps), on_loop

    took, longest_gap, on_loop = asyncio.run(scenario())
    assert took >= 0.6  # the authority was slow...
    assert longest_gap < 0.25  # ...and the loop ran on meanwhile
    assert on_loop < 0.05 and len(fake.calls("POST", TOKEN_PATH)) == 1


def test_a_slow_authority_holds_up_no_other(fake: FakeConnector) -> None:
    fake.delay(1.2, path_contains=f"slow-tenant{TOKEN_PATH}")

    async def scenario() -> tuple[float, float]:
        started = time.monotonic()

        async def timed(tenant: str) -> float:
            await credentials(fake, tenant)
            return time.monotonic() - started

        slow = asyncio.create_task(timed("slow-tenant"))
        await asyncio.sleep(0.2)  # the slow one is waiting on its authority
        fast = await timed("fast-tenant")
        return fast, await slow

    fast, slow = asyncio.run(scenario())
    assert slow >= 1.2 and fast < 1.0


def test_a_refused_secret_is_a_permission_error(fake: FakeConnector) -> None:
    with pytest.raises(PermissionError, match="invalid_client"):
        asyncio.run(credentials(fake, "refusing-tenant", password="wrong"))
    assert fake.issued_tokens == []


def test_an_unreachable_authority_is_a_permission_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before anyone asks
    made = TokenEndpointCredentials(BOT_APP_ID, "s", f"http://127.0.0.1:{port}/t", None)
    with pytest.raises(PermissionError):
        made.get_access_token()


def test_plain_http_goes_only_to_this_machine() -> None:
    made = TokenEndpointCredentials(BOT_APP_ID, "s", "http://login.example.com/tenant", None)
    with pytest.raises(PermissionError, match="plain HTTP"):
        made.get_access_token()

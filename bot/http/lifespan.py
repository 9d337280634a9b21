"""The app's lifetime: Slack's sessions and Socket Mode, the outbox dispatcher and the
scheduler started with the server and stopped, in reverse, with it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from functools import partial

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.datastructures import State

import compliance_rules
from bot.bigcommerce.sync import StoreSync
from bot.jobs.leader import Leadership
from bot.jobs.outbox import Dispatcher, Sender
from bot.jobs.scheduler import Scheduler
from bot.runtime import Runtime
from bot.safety.email import EmailSender
from bot.safety.webhook import WebhookSender
from bot.settings import Settings
from bot.slack import socket as slack_socket
from bot.slack.clients import SlackClients

log = logging.getLogger("plaudit")


async def channel_members(clients: SlackClients, channel: str) -> list[str]:
    """Everyone in a Slack channel (conversations.members, every page); plaudit.yaml's
    channels are in the home workspace."""
    client = await clients.for_team(None)
    members: list[str] = []
    cursor = None
    while True:
        response = await client.conversations_members(channel=channel, limit=1000, cursor=cursor)
        members.extend(str(m) for m in response.get("members") or [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return members


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    state = app.state
    settings: Settings = state.settings
    client: AsyncWebClient | None = state.slack_web_client
    socket = await _connect_slack(state, settings, client)
    webhooks = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
    senders: dict[str, Sender] = state.senders
    senders["webhook"] = WebhookSender(webhooks)
    if settings.smtp_host:
        senders["email"] = EmailSender(settings)
    dispatcher = _start_dispatcher(state, settings, senders)
    scheduler = _start_scheduler(state)
    runtime: Runtime = state.runtime
    _warm_rules(runtime)
    state.ready = True
    state.dispatcher = dispatcher
    state.scheduler = scheduler
    state.socket = socket
    try:
        yield
    finally:
        state.ready = False
        if socket is not None:
            await socket.stop()
        refetches: set[asyncio.Task[object]] = state.refetches
        if refetches:
            await asyncio.wait(set(refetches), timeout=30)
        if scheduler:
            await scheduler.stop()
        if dispatcher:
            await dispatcher.stop()
        if client is not None and client.session is not None:
            await client.session.close()
        await webhooks.close()
        log.info("Plaudit stopped: outbox dispatcher and scheduler shut down")


def _warm_rules(runtime: Runtime) -> None:
    """Load the other languages' rule packs in the background, so the first text in each
    does not wait for them; one that does not load holds such texts for a person.

    A daemon thread, not the loop's executor: a stop (SIGTERM) need not wait for packs
    still loading, which the executor's shutdown and the interpreter's exit would."""

    def warm() -> None:
        try:
            runtime.rules.warm()
        except compliance_rules.RuleError as exc:
            log.critical("a language's rule pack does not load; its texts are held: %s", exc)

    threading.Thread(target=warm, name="rules-warm", daemon=True).start()


async def _connect_slack(
    state: State, settings: Settings, client: AsyncWebClient | None
) -> slack_socket.SocketMode | None:
    """Opens the Web API's session, and the Socket Mode connection when that is the way in."""
    if client is not None:
        # One connection pool for every Web API call instead of a session per call.
        client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
    bolt: AsyncApp | None = state.slack_bolt
    if bolt is None or not settings.slack_socket_mode:
        return None
    try:
        return await slack_socket.start(bolt, settings)
    except BaseException:  # a refused app token: close the session, then stop startup
        if client is not None and client.session is not None:
            await client.session.close()
        raise


def _start_dispatcher(
    state: State, settings: Settings, senders: dict[str, Sender]
) -> Dispatcher | None:
    if not state.dispatch:
        return None
    dispatcher = Dispatcher(state.runtime, senders, workspace_rate=settings.slack_rate)
    dispatcher.start()
    return dispatcher


def _start_scheduler(state: State) -> Scheduler | None:
    dispatch: bool = state.dispatch
    schedule: bool | None = state.schedule
    if not (dispatch if schedule is None else schedule):
        return None
    clients: SlackClients | None = state.slack_clients
    runtime: Runtime = state.runtime
    store: StoreSync | None = state.store
    members = partial(channel_members, clients) if clients is not None else None
    scheduler = Scheduler(
        runtime, channel_members=members, store=store, leader=Leadership(runtime.engine)
    )
    scheduler.start()
    return scheduler

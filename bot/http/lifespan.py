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
from bot.audit.checkpoints import Publisher
from bot.bigcommerce.sync import StoreSync
from bot.jobs.leader import Leadership
from bot.jobs.outbox import Dispatcher, Sender
from bot.jobs.scheduler import Scheduler
from bot.jobs.sealer import Sealer
from bot.runtime import Runtime
from bot.safety.email import EmailSender
from bot.safety.webhook import WebhookSender
from bot.settings import Settings
from bot.slack import socket as slack_socket
from bot.slack.clients import SlackClients

log = logging.getLogger("plaudit")
# Seconds start-up waits for the rules to compile before serving regardless.
WARM_LIMIT = 120.0


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
    runtime: Runtime = state.runtime
    # Before any way in opens (the port, Socket Mode): a text checked by rules still
    # compiling waits for the compiling and may be held for want of time.
    await _warm_rules(runtime, WARM_LIMIT)
    socket = await _connect_slack(state, settings, client)
    webhooks = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
    senders: dict[str, Sender] = state.senders
    senders["webhook"] = WebhookSender(webhooks)
    if settings.smtp_host:
        senders["email"] = EmailSender(settings)
    dispatcher = _start_dispatcher(state, settings, senders)
    scheduler = _start_scheduler(state)
    sealer = _start_sealer(runtime, settings, scheduler)
    state.sealer = sealer
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
        if sealer is not None:  # while still leading: seal what the last requests wrote
            await sealer.stop()
        if scheduler:
            await scheduler.stop()
        if dispatcher:
            await dispatcher.stop()
        store: StoreSync | None = state.store
        if store is not None:
            store.close()  # the shared client's connections and the re-fetch worker
        if client is not None and client.session is not None:
            await client.session.close()
        await webhooks.close()
        log.info("Plaudit stopped: outbox dispatcher and scheduler shut down")


async def _warm_rules(runtime: Runtime, limit: float) -> None:
    """Compile every rule pack and load the language model before serving, so no text
    waits for them; past `limit` seconds serve anyway (a text that then runs out of time
    is held for a person), and a pack that does not load holds its language's texts.

    A daemon thread, not the loop's executor: a stop (SIGTERM) need not wait for packs
    still loading, which the executor's shutdown and the interpreter's exit would."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[compliance_rules.RuleError | None] = loop.create_future()

    def finish(error: compliance_rules.RuleError | None) -> None:
        if not done.done():
            done.set_result(error)

    def warm() -> None:
        error = None
        try:
            runtime.rules.warm()
        except compliance_rules.RuleError as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed: startup was abandoned
            loop.call_soon_threadsafe(finish, error)

    started = loop.time()
    threading.Thread(target=warm, name="rules-warm", daemon=True).start()
    try:
        error = await asyncio.wait_for(asyncio.shield(done), limit)
    except TimeoutError:
        log.warning("compliance rules still compiling after %.0f s; serving anyway", limit)
        return
    if error is not None:
        log.critical("a language's rule pack does not load; its texts are held: %s", error)
    else:
        log.info("compliance rules ready in %.1f s", loop.time() - started)


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


def _start_sealer(
    runtime: Runtime, settings: Settings, scheduler: Scheduler | None
) -> Sealer | None:
    """The audit sealer runs beside the scheduler, in the replica that leads."""
    if scheduler is None:
        return None
    if runtime.audit_key is None:
        log.warning(
            "PLAUDIT_AUDIT_KEY is not set: audit entries are kept but not sealed until it is"
        )
        return None
    if settings.audit_checkpoints is None:
        log.warning(
            "PLAUDIT_AUDIT_CHECKPOINTS is not set: audit checkpoints go to the log only, so "
            "keep the log where the database's administrators cannot edit it"
        )
    publisher = Publisher(settings.audit_checkpoints, settings.audit_webhook)
    sealer = Sealer(runtime, runtime.audit_key, publisher, leader=scheduler.leader)
    sealer.start()
    return sealer


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

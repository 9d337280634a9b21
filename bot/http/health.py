"""`/healthz` (alive, with the outbox's backlog and undelivered drug-safety cases) and
`/readyz` (ready for traffic, where drug-safety cases go, how the audit trail's seal and the
BigCommerce store's sync stand)."""

from __future__ import annotations

import functools
import logging
from importlib import metadata

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.bigcommerce.sync import StoreSync
from bot.jobs.outbox import Dispatcher, pending_count, undelivered_safety_count
from bot.jobs.scheduler import Scheduler
from bot.jobs.sealer import Sealer
from bot.observability.logs import quiet_alembic
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import install as slack_install
from bot.slack import socket as slack_socket
from handlers import safety
from storage import migrate
from storage.audit_verify import seal_state

log = logging.getLogger("plaudit.web")


@functools.cache
def version() -> str:
    """The installed package's version ("unknown" when run from a bare source tree)."""
    try:
        return metadata.version("plaudit")
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def _head() -> str | None:
    """The newest migration the code knows: read from the migration scripts once, not on
    every probe."""
    return migrate.head()


async def healthz(request: Request) -> Response:
    state = request.app.state
    if not state.ready:
        return JSONResponse({"status": "starting"}, status_code=503)
    settings: Settings = state.settings
    runtime: Runtime = state.runtime
    client_id = settings.slack_client_id if settings.slack_multi_workspace else None
    try:
        pending, pv_dead, installed = await runtime.run(
            lambda s: (
                pending_count(s),
                undelivered_safety_count(s),
                slack_install.installed(s.connection(), client_id) if client_id else None,
            )
        )
    except Exception as exc:  # the database is the one thing health must report
        log.warning("health check failed: %s", exc)
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    extra = {} if installed is None else {"slack_workspaces": installed}
    return JSONResponse(
        {
            "status": "ok",
            "version": version(),
            "database": runtime.engine.dialect.name,
            "slack": settings.slack_enabled,
            **extra,
            "teams": settings.teams_enabled,
            "outbox_pending": pending,
            "pv_undelivered": pv_dead,
        },
        status_code=200,
    )


async def readyz(request: Request) -> Response:
    """Ready for traffic: the database answers, its schema is current, the outbox
    dispatcher and scheduler are running, and drug-safety cases have somewhere to go."""
    state = request.app.state
    checks = await _database(state.runtime)
    ready_flag: bool = state.ready
    dispatcher = state.dispatcher
    checks["dispatcher"] = (
        "running"
        if isinstance(dispatcher, Dispatcher) and dispatcher.running
        else ("off" if dispatcher is None and ready_flag else "stopped")
    )
    scheduler = state.scheduler
    checks["scheduler"] = scheduler.role if isinstance(scheduler, Scheduler) else "off"
    # Where a possible adverse event goes: destinations whose sender runs here. None is
    # not ready when chat is served, since a case would be recorded but reach no one.
    senders: dict[str, object] = state.senders
    runtime: Runtime = state.runtime
    checks["drug_safety"] = [
        d for d in safety.destinations(runtime.policy) if d.split(":", 1)[0] in senders
    ]
    checks["audit"] = await _audit(runtime, state.sealer)
    socket = state.socket
    if isinstance(socket, slack_socket.SocketMode):
        # Reported, not required: Slack keeps events for a replica that reconnects.
        checks["slack_socket_mode"] = "connected" if socket.connected else "connecting"
    store = state.store
    if isinstance(store, StoreSync):
        # Reported, not required: a scope the store's API account lacks, or the store being
        # down, leaves milestones behind but is no reason to take this replica out of service.
        checks["bigcommerce"] = store.status.detail(queued=len(store.refetches))
    ready = (
        ready_flag
        and checks["database"] == "ok"
        and checks["migrations"] == "current"
        and checks["dispatcher"] != "stopped"
        and (bool(checks["drug_safety"]) or not state.settings.chat_enabled)
    )
    return JSONResponse(
        {"status": "ready" if ready else "not ready", **checks},
        status_code=200 if ready else 503,
    )


async def _audit(runtime: Runtime, sealer: object) -> dict[str, object]:
    """How the audit trail's seal stands. Reported, never a reason to take the replica out
    of service: a trail that no longer ends where its checkpoint says is an alarm for a
    person (logged as critical by the sealer), and kudos go on being recorded meanwhile."""
    role = sealer.role if isinstance(sealer, Sealer) else "off"
    try:
        state = await runtime.run(
            lambda s: seal_state(s, runtime.audit_key, now=runtime.clock.now())
        )
    except Exception as exc:
        log.warning("readiness check: audit state unreadable: %s", type(exc).__name__)
        return {"sealer": role, "state": "unreadable"}
    checkpoint = state.checkpoint
    return {
        "sealer": role,
        "sealed": state.sealed,
        "unsealed": state.unsealed,
        "unsealed_over_10s": state.stale,
        "checkpoint_at": checkpoint.at.isoformat() if checkpoint is not None else None,
        "problem": state.problem,
    }


async def _database(runtime: Runtime) -> dict[str, object]:
    """Whether the database answers, and whether its schema is at the latest migration."""
    checks: dict[str, object] = {}

    def revision(session: Session) -> str | None:
        with quiet_alembic():  # two INFO lines per probe otherwise
            return migrate.revision_of(session.connection())

    try:
        current = await runtime.run(revision)
        checks["database"] = "ok"
        checks["migrations"] = "current" if current == _head() else f"at {current}"
    except Exception as exc:
        log.warning("readiness check: database unreachable: %s", type(exc).__name__)
        checks["database"] = "unreachable"
    return checks

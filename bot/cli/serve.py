"""`plaudit serve`, `demo` and `db`: run the bot or the demo, move the database schema."""

from __future__ import annotations

import argparse
import atexit
import gc
import io
import sys
from typing import Any

from bot.cli import demo
from bot.cli.bootstrap import UsageError, build_runtime, database_errors, load_settings
from bot.observability import logs, metrics, tracing
from bot.status import status_lines
from storage import migrate
from storage.db import make_engine


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.http.app import create_app
    from bot.http.server import serve, server_config

    settings = load_settings()
    host = args.host or settings.host
    port = args.port or settings.port
    if args.workers < 1:
        raise UsageError("--workers must be 1 or more")
    metrics.prepare_multiprocess(args.workers)  # every worker's metrics in one scrape
    problem = (
        settings.slack_problem() or settings.teams_problem(host) or settings.dashboard_problem()
    )
    if problem:
        raise UsageError(problem)
    runtime = build_runtime(settings, upgrade=not args.no_migrate, serving=True)
    tracing.configure(settings)
    # Under systemd or docker stdout is a pipe: without this the status lines would wait in
    # its buffer until the process ends.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    print(
        f"Plaudit listening on http://{host}:{port}"
        + (f" with {args.workers} worker processes" if args.workers > 1 else "")
    )
    for line in status_lines(settings, runtime.policy):
        print(f"  {line}")
    sys.stdout.flush()
    if args.workers > 1:
        # Each worker builds its own app; the schema was upgraded once, above. Dedupe keys,
        # leases and BEGIN IMMEDIATE / SKIP LOCKED keep the workers from doing anything twice.
        runtime.close()
        workers = server_config(
            "bot.cli.serve:worker_app", settings, host=host, port=port, workers=args.workers
        )
        return serve(workers)
    _tune()
    try:
        return serve(server_config(create_app(settings, runtime), settings, host=host, port=port))
    finally:
        runtime.close()


def _tune() -> None:
    # The event loop and the DB thread share the GIL; a shorter switch interval than the
    # default 5 ms keeps an ack from waiting behind a long stretch of database work.
    sys.setswitchinterval(0.002)
    # Objects alive after start-up live for the whole process; keeping them out of the
    # collector's scans, and collecting young objects less often, shortens pauses.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def worker_app() -> Any:
    """The ASGI app of one `serve --workers N` process."""
    from bot.http.app import create_app

    logs.configure_from_environment()  # a fresh process: uvicorn set up only its own loggers
    settings = load_settings()
    runtime = build_runtime(settings, upgrade=False, serving=True)
    tracing.configure(settings)
    atexit.register(runtime.close)
    _tune()
    return create_app(settings, runtime)


def cmd_db(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    if args.action == "downgrade" and not args.revision:
        raise UsageError("db downgrade needs a revision, e.g. -1 or base")
    try:
        with database_errors(settings.database_url):
            if args.action == "upgrade":
                migrate.upgrade(engine, args.revision or "head")
            elif args.action == "downgrade":
                migrate.downgrade(engine, args.revision)
            print(f"database at revision {migrate.current(engine) or 'base'}")
    finally:
        engine.dispose()
    return 0


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The serve, demo and db commands."""
    serve = sub.add_parser("serve", help="run the bot (HTTP on PLAUDIT_HOST:PLAUDIT_PORT)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.set_defaults(func=cmd_serve)

    demo.add(sub)

    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"])
    db.add_argument("revision", nargs="?")
    db.set_defaults(func=cmd_db)

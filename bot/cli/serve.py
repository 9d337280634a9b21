"""`plaudit serve`, `demo` and `db`: run the bot or the demo, move the database schema."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from bot.cli.bootstrap import UsageError, build_runtime, load_settings
from bot.observability import logs
from bot.status import status_lines
from storage import migrate
from storage.db import connection_problem, make_engine, masked
from storage.vault import new_key


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.http.app import create_app
    from bot.http.server import serve, server_config

    settings = load_settings()
    host = args.host or settings.host
    port = args.port or settings.port
    if args.workers < 1:
        raise UsageError("--workers must be 1 or more")
    problem = (
        settings.slack_problem() or settings.teams_problem(host) or settings.dashboard_problem()
    )
    if problem:
        raise UsageError(problem)
    with database_errors(settings.database_url):
        runtime = build_runtime(settings, upgrade=not args.no_migrate, serving=True)
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


@contextlib.contextmanager
def database_errors(url: str) -> Iterator[None]:
    """A database that cannot be reached, as one line naming the setting (no traceback)."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise UsageError(
            f"PLAUDIT_DATABASE_URL: cannot use the database at {masked(url)}: "
            f"{connection_problem(exc)}"
        ) from exc


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
    atexit.register(runtime.close)
    _tune()
    return create_app(settings, runtime)


def cmd_demo(args: argparse.Namespace) -> int:
    import secrets

    import uvicorn
    from pydantic import SecretStr
    from sqlalchemy.engine import make_url

    from bot.demo import app as demo

    settings = load_settings()
    path = Path(args.db).resolve()
    configured = make_url(settings.database_url)
    if (
        configured.drivername.startswith("sqlite")
        and configured.database not in (None, "", ":memory:")
        and Path(str(configured.database)).resolve() == path
    ):
        raise UsageError(
            f"{path} is the database in PLAUDIT_DATABASE_URL; the demo needs a file of its "
            "own (--db PATH)"
        )
    secret = secrets.token_urlsafe(32)
    update: dict[str, object] = {
        "database_url": f"sqlite:///{path}",
        "dashboard_secret": SecretStr(secret),
    }
    if settings.pv_key is None and settings.pv_key_file is None:
        update["pv_key_file"] = _demo_pv_key(path)
    with database_errors(str(update["database_url"])):
        runtime = build_runtime(settings.model_copy(update=update))
    runtime.policy = demo.policy(runtime.policy)
    try:
        report = demo.seed(runtime, now=runtime.clock.now())
        if report["seeded"]:
            print(
                f"Seeded Larkspur Pharma into {path}: {report['members']} members, "
                f"{report['recognitions']} recognitions, {report['survey_rounds']} pulse "
                f"survey rounds, {len(report['milestones'])} campaign milestones reached."
            )
        else:
            print(f"Using {path} as it is ({report['members']} members).")
        link = demo.OneTimeLink(secrets.token_urlsafe(32))
        base = f"http://127.0.0.1:{args.port}/dashboard"
        print("Nothing is sent to Slack or Teams. Open this link once to sign in as the admin:")
        print(f"    {base}/demo-login?token={link.token}")
        print(f"Then give kudos or answer the pulse survey at {base}/sandbox", flush=True)
        uvicorn.run(
            demo.app(runtime, secret=secret, link=link),
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            log_config=None,  # uvicorn's lines in Plaudit's format
            access_log=False,
        )
    finally:
        runtime.close()
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    if args.action == "downgrade" and not args.revision:
        raise UsageError("db downgrade needs a revision, e.g. -1 or base")
    with database_errors(settings.database_url):
        if args.action == "upgrade":
            migrate.upgrade(engine, args.revision or "head")
        elif args.action == "downgrade":
            migrate.downgrade(engine, args.revision)
        print(f"database at revision {migrate.current(engine) or 'base'}")
    return 0


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The serve, demo and db commands."""
    serve = sub.add_parser("serve", help="run the bot (HTTP on PLAUDIT_HOST:PLAUDIT_PORT)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.set_defaults(func=cmd_serve)

    dem = sub.add_parser(
        "demo", help="try Plaudit in a browser with a fictional organisation (no Slack or Teams)"
    )
    dem.add_argument("--port", type=int, default=8765, help="default 8765 (on 127.0.0.1 only)")
    dem.add_argument(
        "--db", default="plaudit-demo.db", metavar="PATH", help="default plaudit-demo.db"
    )
    dem.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"])
    db.add_argument("revision", nargs="?")
    db.set_defaults(func=cmd_db)


def _demo_pv_key(database: Path) -> Path:
    """The sandbox's PV key: a file beside its database (readable by its owner only), made
    on first use, so its cases are sealed as a real installation's are."""
    key_file = database.with_name(database.name + ".pv-key")
    if not key_file.exists():
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(new_key() + "\n")
    return key_file

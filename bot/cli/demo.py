"""`plaudit demo`: Larkspur Pharma in a database of its own, served on 127.0.0.1 with a
one-time sign-in link; `plaudit demo --link` prints a fresh link for the running demo."""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from bot.cli.bootstrap import UsageError, build_runtime, load_settings
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.counts import count
from storage import audit
from storage.vault import new_key

DEFAULT_PORT = 8765


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import app as demo

    settings = load_settings()
    path = Path(args.db).resolve()
    if args.link and not path.exists():
        raise UsageError(f"there is no demo database at {path}: start the demo with plaudit demo")
    runtime = _runtime(settings, path)
    base = f"http://127.0.0.1:{args.port}/dashboard"
    try:
        if args.link:
            token = demo.issue_link(runtime, _secret(path), minutes=15)
            print("Open this link once, within 15 minutes, to sign in to the demo as its admin:")
            print(f"    {base}/demo-login?token={token}")
            return 0
        return _serve(runtime, path, args.port, base, host=args.host)
    finally:
        runtime.close()


def _runtime(settings: Settings, path: Path) -> Runtime:
    """The runtime over the demo's database, never the one in PLAUDIT_DATABASE_URL."""
    from sqlalchemy.engine import make_url

    from bot.demo import app as demo

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
    update: dict[str, object] = {"database_url": f"sqlite:///{path}"}
    if settings.pv_key is None and settings.pv_key_file is None:
        update["pv_key_file"] = _beside(path, ".pv-key", new_key)
    if settings.audit_key is None and settings.audit_key_file is None:
        update["audit_key_file"] = _beside(path, ".audit-key", audit.new_key)
    runtime = build_runtime(settings.model_copy(update=update))
    runtime.policy = demo.policy(runtime.policy)
    return runtime


def _serve(runtime: Runtime, path: Path, port: int, base: str, *, host: str) -> int:
    import uvicorn

    from bot.demo import app as demo

    report = demo.seed(runtime, now=runtime.clock.now())
    if report["seeded"]:
        print(
            f"Seeded Larkspur Pharma into {path}: {count(report['members'], 'member')}, "
            f"{count(report['recognitions'], 'recognition')}, "
            f"{count(report['survey_rounds'], 'pulse survey round')}, "
            f"{count(len(report['milestones']), 'campaign milestone')} reached."
        )
    else:
        print(f"Using {path} as it is ({count(report['members'], 'member')}).")
    secret = _secret(path)
    token = demo.issue_link(runtime, secret)
    print("Nothing is sent to Slack or Teams. Open this link once to sign in as the admin:")
    print(f"    {base}/demo-login?token={token}")
    print(f"Then give kudos or answer the pulse survey at {base}/sandbox")
    port_option = f" --port {port}" if port != DEFAULT_PORT else ""
    print(
        "A new sign-in link (another browser, or later): "
        f"plaudit demo --link{port_option} --db {path}"
    )
    print(f"The other commands on this data: PLAUDIT_DATABASE_URL=sqlite:///{path} plaudit ...")
    print("", flush=True)
    uvicorn.run(
        demo.app(runtime, secret=secret),
        host=host,
        port=port,
        log_level="warning",
        log_config=None,  # uvicorn's lines in Plaudit's format
        access_log=False,
    )
    return 0


def _secret(database: Path) -> str:
    """The demo dashboard's secret, kept beside its database, so `plaudit demo --link` can
    sign a link the running demo accepts."""
    return _beside(database, ".secret", lambda: secrets.token_urlsafe(32)).read_text().strip()


def _beside(database: Path, suffix: str, make: Callable[[], str]) -> Path:
    """A file beside the demo's database, readable by its owner only, made on first use
    (the PV key its cases are sealed with and the audit key, as a real installation's
    are; the secret)."""
    path = database.with_name(database.name + suffix)
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(str(make()) + "\n")
    return path


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The demo command."""
    dem = sub.add_parser(
        "demo", help="try Plaudit in a browser with a fictional organisation (no Slack or Teams)"
    )
    dem.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"default {DEFAULT_PORT} (on 127.0.0.1 only)",
    )
    dem.add_argument(
        "--db", default="plaudit-demo.db", metavar="PATH", help="default plaudit-demo.db"
    )
    dem.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 inside a container whose "
        "port is published to the host's 127.0.0.1 only)",
    )
    dem.add_argument(
        "--link",
        action="store_true",
        help="print a new one-time sign-in link for the demo running with this --port and --db",
    )
    dem.set_defaults(func=cmd_demo)

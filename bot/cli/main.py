"""The `plaudit` command: serve, migrate, give kudos, check a text, verify the audit trail."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from sqlalchemy.exc import InterfaceError, OperationalError

from bot.cli import admin, audit, boards, kpi, kudos, people, pv, report, serve, surveys
from bot.cli.bootstrap import UsageError, build_runtime, load_settings
from bot.cli.serve import worker_app
from bot.cli.surveys import _channel_members
from bot.observability import logs
from storage.db import connection_problem, engines_made

__all__ = [
    "UsageError",
    "_channel_members",
    "build_runtime",
    "load_settings",
    "main",
    "parser",
    "worker_app",
]

# In the order `plaudit --help` lists the commands.
GROUPS = (serve, kudos, people, surveys, boards, kpi, report, pv, audit, admin)


def version() -> str:
    """The installed distribution's version (from its metadata, not from the source tree)."""
    try:
        return metadata.version("plaudit")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="plaudit", description="Peer recognition for Slack and Microsoft Teams"
    )
    p.add_argument("--version", action="version", version=f"plaudit {version()}")
    sub = p.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure_from_environment()
    before = engines_made()
    try:
        code: int = args.func(args)
    except UsageError as exc:
        print(f"plaudit: {exc}", file=sys.stderr)
        return 2
    except (OperationalError, InterfaceError) as exc:  # the database went away mid-command
        print(
            f"plaudit: PLAUDIT_DATABASE_URL: cannot use the database: {connection_problem(exc)}",
            file=sys.stderr,
        )
        return 2
    finally:
        for engine in engines_made() - before:  # the command's own: connections closed
            engine.dispose()
    return code


if __name__ == "__main__":
    sys.exit(main())

"""`plaudit dashboard` and `teams-package`: print a one-time dashboard sign-in link, build
the Teams app upload."""

from __future__ import annotations

import argparse
from importlib import metadata
from pathlib import Path

from bot.cli.bootstrap import UsageError, build_runtime, load_settings
from bot.settings import Settings
from handlers import signin_links


def cmd_dashboard(args: argparse.Namespace) -> int:
    """`dashboard link --as EMAIL`: a one-time sign-in link, printed here on the server."""
    settings = load_settings()
    if settings.dashboard_secret is None:
        raise UsageError(
            "the dashboard is off: set PLAUDIT_DASHBOARD_SECRET (the same value plaudit serve "
            "uses) and run this again"
        )
    key = signin_links.link_key(settings.dashboard_secret.get_secret_value())
    runtime = build_runtime(settings)
    listed = (
        *runtime.admins,
        *runtime.safety,
        *(r for r in runtime.policy.reviewers if "@" in r),
    )
    now = runtime.clock.now()
    try:
        issued = runtime.run_sync(
            lambda s: signin_links.issue(
                args.as_email,
                session=s,
                key=key,
                now=now,
                minutes=args.minutes,
                listed=listed,
                actor="cli",
            )
        )
    finally:
        runtime.close()
    if isinstance(issued, str):
        print(f"No link: {issued}.")
        return 1
    print(
        f"One-time sign-in link for {issued.name} ({issued.email}), good once until "
        f"{issued.expires_at:%Y-%m-%d %H:%M} UTC:"
    )
    print(f"    {_dashboard_url(settings)}/link?token={issued.token}")
    return 0


def _dashboard_url(settings: Settings) -> str:
    if settings.public_url:
        return f"{settings.public_url}/dashboard"
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}/dashboard"


def cmd_teams_package(args: argparse.Namespace) -> int:
    from bot.teams import package as teams_package

    app_id = (load_settings().microsoft_app_id or "").strip()
    if not app_id:
        raise UsageError("set MICROSOFT_APP_ID to the bot's Microsoft App ID (a GUID) first")
    version = args.version or _installed_version()
    out = Path(args.out)
    pages = {
        "website_url": args.website_url,
        "privacy_url": args.privacy_url,
        "terms_url": args.terms_url,
    }
    developer = teams_package.Developer(**{k: v for k, v in pages.items() if v})
    try:
        teams_package.write_package(
            out, app_id=app_id, version=version, domains=args.domain or (), developer=developer
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    except OSError as exc:
        raise UsageError(f"{out}: {exc.strerror or exc}") from exc
    print(f"wrote {out} (Teams app {version}, bot {app_id})")
    return 0


def _installed_version() -> str:
    try:
        return metadata.version("plaudit")
    except metadata.PackageNotFoundError as exc:
        raise UsageError("plaudit is not installed; give --version, e.g. 1.2.3") from exc


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The dashboard and teams-package commands."""
    dash = sub.add_parser(
        "dashboard", help="a one-time dashboard sign-in link (when there is no single sign-on)"
    )
    dash.add_argument("action", choices=["link"])
    dash.add_argument(
        "--as",
        dest="as_email",
        required=True,
        metavar="EMAIL",
        help="an active member with an admin, reviewer or safety role",
    )
    dash.add_argument(
        "--minutes",
        type=int,
        default=signin_links.DEFAULT_MINUTES,
        help=f"how long the link is good for (default {signin_links.DEFAULT_MINUTES}, "
        f"at most {signin_links.MAX_MINUTES})",
    )
    dash.set_defaults(func=cmd_dashboard)

    tp = sub.add_parser(
        "teams-package", help="the Teams app package to upload (bot id from MICROSOFT_APP_ID)"
    )
    tp.add_argument(
        "--out", metavar="PATH", default="plaudit-teams.zip", help="default plaudit-teams.zip"
    )
    tp.add_argument("--version", help="the app version, e.g. 1.2.0 (default: Plaudit's version)")
    tp.add_argument(
        "--domain",
        action="append",
        metavar="HOST",
        help="a valid domain, e.g. plaudit.example.com (repeatable; default: none)",
    )
    placeholder = "https; default a placeholder under https://plaudit.example.com/"
    tp.add_argument("--website-url", metavar="URL", help=f"the support website ({placeholder})")
    tp.add_argument("--privacy-url", metavar="URL", help=f"the privacy statement ({placeholder})")
    tp.add_argument("--terms-url", metavar="URL", help=f"the terms of use ({placeholder})")
    tp.set_defaults(func=cmd_teams_package)

"""`plaudit leaderboard`, `sprint`, `digest` and `bigcommerce`: points, boards and reports."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from sqlmodel import Session

from bot.cli.bootstrap import UsageError, build_runtime, load_settings
from bot.runtime import Runtime
from handlers import collaboration, digests, leaderboard, sprints
from handlers.counts import count
from storage import directory, frozen_boards


def _sprint(runtime: Runtime, sprint_id: str | None) -> sprints.Sprint:
    calendar = runtime.policy.sprints
    now = runtime.clock.now()
    found = calendar.by_id(sprint_id, near=now) if sprint_id else calendar.sprint_of(now)
    if found is None:
        raise UsageError(
            f"no sprint {sprint_id!r} in the sprint settings"
            if sprint_id
            else "no sprint is running now (see sprints.ranges in plaudit.yaml)"
        )
    return found


def cmd_leaderboard(args: argparse.Namespace) -> int:
    settings = load_settings()
    runtime = build_runtime(settings)
    try:
        sprint = _sprint(runtime, args.sprint)
        filters = leaderboard.Filters(
            team=args.team, region=args.region, therapeutic_area=args.area, value=args.value
        )
        board = runtime.run_sync(
            lambda s: leaderboard.board(
                s,
                sprint,
                by=args.by,
                filters=filters,
                exclude=runtime.boards.exclude,
                top=args.top,
                workspace=args.workspace,
            )
        )
    finally:
        runtime.close()
    name_key = "team" if args.by == "team" else "email"
    rows = [
        {
            "rank": r.rank,
            name_key: r.name if args.by == "team" else r.email,
            "display_name": r.name,
            "points": r.points,
            "recognition_points": r.recognition_points,
            "milestone_points": r.milestone_points,
        }
        for r in board.rows
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif args.csv:
        out = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else [name_key])
        out.writeheader()
        out.writerows(rows)
    else:
        print("\n".join(leaderboard.lines(board)))
    return 0


def cmd_sprint(args: argparse.Namespace) -> int:
    settings = load_settings()
    runtime = build_runtime(settings)
    try:
        if args.action == "rebuild":
            counted = runtime.run_sync(
                lambda s: sprints.rebuild(s, runtime.policy.sprints, now=runtime.clock.now())
            )
            print(f"Sprint totals recounted from the recognitions ({count(counted, 'row')}).")
            return 0
        sprint = _sprint(runtime, args.id)
        if args.action == "close":
            if runtime.clock.now() < sprint.end:
                raise UsageError(f"sprint {sprint.id} runs until {sprint.end:%Y-%m-%d %H:%M} UTC")
            snapshot = runtime.run_sync(
                lambda s: leaderboard.freeze(
                    s,
                    sprint,
                    now=runtime.clock.now(),
                    rules=runtime.boards.rules,
                    exclude=runtime.boards.exclude,
                )
            )
            print(f"Sprint {sprint.id} frozen (sha256 {snapshot.sha256}).")
            return 0
        found = runtime.run_sync(lambda s: frozen_boards.snapshot(session=s, sprint=sprint.id))
    finally:
        runtime.close()
    if found is None:
        print(f"Sprint {sprint.id} is not closed yet; `plaudit leaderboard --sprint {sprint.id}`")
        print("shows its standings so far.")
        return 1
    intact = leaderboard.verify(found)
    if args.json:
        print(json.dumps({**found.data, "sha256": found.sha256, "intact": intact}, indent=2))
    else:
        for by, title in (("person", "People"), ("team", "Teams"), ("givers", "Givers")):
            print(f"{title}:")
            for row in found.data["boards"][by]["rows"]:
                print(f"  {row['rank']}. {row['name']}: {row['points']}")
        print(f"Frozen {found.closed_at:%Y-%m-%d %H:%M} UTC, sha256 {found.sha256}")
    if not intact:
        print("WARNING: the snapshot does not match its hash; it was altered.", file=sys.stderr)
        return 1
    return 0


def cmd_bigcommerce(args: argparse.Namespace) -> int:
    from bot.bigcommerce import sync as commerce

    settings = load_settings()
    if not settings.bigcommerce_enabled:
        raise UsageError("set BIGCOMMERCE_STORE_HASH and BIGCOMMERCE_ACCESS_TOKEN first")
    runtime = build_runtime(settings)
    try:
        with commerce.client_for(settings, runtime.store.quota_share) as client:
            report = commerce.sync(
                client,
                runtime.run_sync,
                milestones=runtime.milestones,
                calendar=runtime.policy.sprints,
                policy=runtime.policy,
                now=runtime.clock.now(),
            )
    finally:
        runtime.close()
    since = f" since {report.since:%Y-%m-%d %H:%M:%S} UTC" if report.since else " (first sync)"
    print(
        f"Fetched {count(report.promotions, 'promotion')}, {count(report.coupons, 'coupon')}, "
        f"{count(report.channels, 'channel')} and {count(report.orders, 'order')}{since}; "
        f"{count(report.orders_stored, 'order')} stored."
    )
    for award in report.awarded:
        points = count(award.points, "point")
        print(f"Milestone awarded: {award.title} ({points}, sprint {award.sprint})")
    if not report.awarded:
        print("No new milestones.")
    share = f" = {report.quota_share:.1%} of the quota of {report.quota}" if report.quota else ""
    print(
        f"{count(report.requests, 'API request')}{share}; {report.throttled} rate-limited; "
        f"{report.seconds:.1f} s."
    )
    if report.error:
        print(f"The sync stopped early: {report.error}", file=sys.stderr)
        return 1
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    settings = load_settings()
    runtime = build_runtime(settings)
    try:

        def work(session: Session) -> list[str] | None:
            manager = directory.by_email(session=session, email=args.manager)
            if manager is None:
                raise UsageError(f"no member with email {args.manager}")
            now, least = runtime.clock.now(), collaboration.threshold(runtime.surveys)
            found = digests.build(session, manager, now=now, policy=runtime.policy, least=least)
            return digests.lines(found) if found is not None else None

        shown = runtime.run_sync(work)
    finally:
        runtime.close()
    if shown is None:
        print(f"{args.manager} has no direct reports, so no digest would be sent.")
        return 1
    print("\n".join(shown))
    return 0


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The leaderboard, sprint, digest and bigcommerce commands."""
    board = sub.add_parser("leaderboard", help="a sprint's leaderboard")
    board.add_argument("--sprint", help="e.g. 2026Q4 (default: the current sprint)")
    board.add_argument("--by", choices=["person", "team", "givers"], default="person")
    board.add_argument("--team")
    board.add_argument("--region")
    board.add_argument("--area", help="therapeutic area")
    board.add_argument("--value", help="a value tag, e.g. #site-activation")
    board.add_argument("--top", type=int, default=None, help="first N ranks (default: all)")
    board.add_argument(
        "--workspace", metavar="TEAM_ID", help="only the people of this Slack workspace (T...)"
    )
    fmt = board.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    board.set_defaults(func=cmd_leaderboard)

    spr = sub.add_parser("sprint", help="closed sprints: show a frozen board, close, recount")
    spr.add_argument("action", choices=["show", "close", "rebuild"])
    spr.add_argument("id", nargs="?", help="e.g. 2026Q3 (default: the current sprint)")
    spr.add_argument("--json", action="store_true")
    spr.set_defaults(func=cmd_sprint)

    dig = sub.add_parser("digest", help="manager digests")
    dig.add_argument("action", choices=["preview"])
    dig.add_argument("--manager", required=True, metavar="EMAIL")
    dig.set_defaults(func=cmd_digest)

    bc = sub.add_parser("bigcommerce", help="the BigCommerce store behind campaign milestones")
    bc.add_argument("action", choices=["sync"])
    bc.set_defaults(func=cmd_bigcommerce)

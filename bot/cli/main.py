"""The `plaudit` command: serve, migrate, give kudos, check a text, verify the audit trail."""

from __future__ import annotations

import argparse
import atexit
import csv
import gc
import io
import json
import logging
import re
import sys
import uuid
from collections.abc import Sequence
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

import compliance_rules
from bot import config as org_config
from bot.chat.ratelimit import PerUserLimit
from bot.observability import logs
from bot.runtime import BoardSettings, Runtime, StoreSettings
from bot.settings import Settings
from compliance_rules.evaluate import evaluate, read_corpus
from handlers import (
    digests,
    history,
    kudos,
    leaderboard,
    privacy,
    retention,
    review,
    roster,
    sprints,
    surveys,
)
from handlers.events import KudosRequested, Person
from storage import migrate, queries
from storage.db import make_engine
from storage.models import Member, SprintSnapshot

log = logging.getLogger("plaudit")


class UsageError(Exception):
    """A problem the person at the terminal can fix; printed without a traceback."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"environment: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        ]
        raise UsageError("\n".join(lines)) from exc


def build_runtime(settings: Settings, *, upgrade: bool = True) -> Runtime:
    try:
        org = org_config.load(settings.config_path)
    except org_config.ConfigError as exc:
        raise UsageError(str(exc)) from exc
    try:
        rules = org.compliance.rules(settings.config_path.resolve().parent)
    except compliance_rules.RuleError as exc:
        raise UsageError(str(exc)) from exc
    engine = make_engine(settings.database_url)
    if upgrade:
        migrate.upgrade(engine)
    runtime = Runtime(
        engine=engine,
        policy=org.policy(),
        rules=rules,
        surveys=org.survey_definitions(),
        milestones=org.milestone_definitions(),
        digests=org.digests.schedule() if org.digests.enabled else None,
        limiter=PerUserLimit(
            per_minute=settings.commands_per_minute,
            burst=max(1, int(settings.commands_per_minute // 2)),
        ),
        admins=tuple(org.dashboard.admins),
        safety=tuple(org.dashboard.safety),
        retention=org.retention.retention(),
        store=StoreSettings(
            sync_every=org.bigcommerce.interval, quota_share=org.bigcommerce.quota_share
        ),
        boards=BoardSettings(
            channel=org.sprints.channel,
            top=org.sprints.top,
            exclude=tuple(org.sprints.exclude),
            update_cron=org.sprints.update.cron if org.sprints.update else None,
            update_timezone=org.sprints.update.timezone if org.sprints.update else None,
            slack_workspace=(
                settings.slack_home_workspace if settings.slack_multi_workspace else None
            ),
            slack_only=settings.slack_isolated,
            rules={
                "sprints": org.sprints.model_dump(mode="json"),
                "milestones": [m.model_dump(mode="json") for m in org.milestones],
                "values": list(org.recognition.values),
            },
        ),
    )
    if upgrade:
        _recount_if_needed(runtime)
    return runtime


def _recount_if_needed(runtime: Runtime) -> None:
    """Sprint totals were counted under other sprint settings (or never): count again."""
    calendar = runtime.policy.sprints

    def work(session: Session) -> int | None:
        if not sprints.needs_rebuild(session, calendar):
            return None
        return sprints.rebuild(session, calendar, now=runtime.clock.now())

    counted = runtime.run_sync(work)
    if counted is not None:
        log.info("sprint totals recounted for the current sprint settings (%s rows)", counted)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.http.app import create_app

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
    runtime = build_runtime(settings, upgrade=not args.no_migrate)
    print(
        f"Plaudit listening on http://{host}:{port}"
        + (f" with {args.workers} worker processes" if args.workers > 1 else "")
    )
    for line in settings.status_lines():
        print(f"  {line}")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level,
        "access_log": False,
    }
    if args.workers > 1:
        # Each worker builds its own app; the schema was upgraded once, above. Dedupe keys,
        # leases and BEGIN IMMEDIATE / SKIP LOCKED keep the workers from doing anything twice.
        runtime.close()
        uvicorn.run("bot.cli.main:worker_app", factory=True, workers=args.workers, **options)
        return 0
    _tune()
    try:
        uvicorn.run(create_app(settings, runtime), **options)
    finally:
        runtime.close()
    return 0


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
    runtime = build_runtime(settings, upgrade=False)
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
    runtime = build_runtime(
        settings.model_copy(
            update={"database_url": f"sqlite:///{path}", "dashboard_secret": SecretStr(secret)}
        )
    )
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
            access_log=False,
        )
    finally:
        runtime.close()
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    if args.action == "upgrade":
        migrate.upgrade(engine, args.revision or "head")
    elif args.action == "downgrade":
        if not args.revision:
            raise UsageError("db downgrade needs a revision, e.g. -1 or base")
        migrate.downgrade(engine, args.revision)
    print(f"database at revision {migrate.current(engine) or 'base'}")
    return 0


_HANDLE = re.compile(r"(?<![\w@])@([\w.+\-']+(?:@[\w.\-]+)?)")
_VALUE = re.compile(r"(?<![\w#&/])#[a-z0-9][a-z0-9_-]*", re.IGNORECASE)


def cmd_kudos(args: argparse.Namespace) -> int:
    settings = load_settings()
    runtime = build_runtime(settings)
    text: str = args.text
    handles = _HANDLE.findall(text)
    message = text
    leading = re.match(r"^(\s*@[\w.+\-'@]+[\s,]*)+", message)
    if leading:
        message = message[leading.end() :]

    def work(session: Session) -> kudos.KudosResult:
        giver = _member_person(session, args.as_email)
        if giver is None:
            raise UsageError(f"no member with email {args.as_email}; import or create them first")
        recipients = tuple(
            _member_person(session, h) or Person("email", None, h, h, exists=False) for h in handles
        )
        values = tuple(dict.fromkeys(v.lower() for v in _VALUE.findall(message)))
        event = KudosRequested(
            key=f"cli:{uuid.uuid4()}",
            giver=giver,
            recipients=recipients,
            message=message.strip(),
            values=values,
            source="cli",
        )
        return kudos.give(
            event, session=session, policy=runtime.policy, clock=runtime.clock, rules=runtime.rules
        )

    try:
        result = runtime.run_sync(work)
    finally:
        runtime.close()
    if isinstance(result, kudos.Recorded):
        print(
            f"Recorded kudos #{result.recognition_id} for {', '.join(result.recipients)}; "
            f"{result.allowance_left} left today."
        )
        for warning in result.warnings:
            print(f"warning: {warning.message}")
        return 0
    if isinstance(result, kudos.Stopped):
        print(result.message)
        return 1
    if isinstance(result, kudos.Refused):
        print(result.message)
        return 1
    print("Already recorded.")
    return 0


def _member_person(session: Session, handle: str) -> Person | None:
    """A member by email, email local part, or display name (case-insensitive)."""
    handle = handle.strip().lstrip("@")
    lowered = handle.lower()
    stmt = select(Member).where(
        or_(
            func.lower(col(Member.email)) == lowered,
            func.lower(col(Member.email)).like(f"{lowered}@%"),
            func.lower(col(Member.display_name)) == lowered,
        ),
        col(Member.active).is_(True),
    )
    found = list(session.exec(stmt.limit(2)))
    if len(found) != 1:
        return None
    member = found[0]
    if member.email is None:
        return None
    return Person.by_email(
        member.email, member.display_name, timezone=member.timezone, is_bot=member.is_bot
    )


def cmd_check(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        org = org_config.load(settings.config_path)
        rules = org.compliance.rules(settings.config_path.resolve().parent)
    except (org_config.ConfigError, compliance_rules.RuleError) as exc:
        raise UsageError(str(exc)) from exc
    if args.eval:
        return _evaluate(Path(args.eval), rules, verbose=args.verbose)
    if args.text is None:
        raise UsageError("give a text to check, - to read it from standard input, or --eval FILE")
    text = sys.stdin.read() if args.text == "-" else args.text
    result = compliance_rules.check(text, rules)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(f"outcome: {result.outcome.value}")
        for f in result.findings:
            print(f"- {f.rule} [{f.category}] {f.start}-{f.end} {f.match!r}: {f.message}")
            if f.suggestion:
                print(f"  suggestion: {f.suggestion}")
            if f.cites:
                print(f"  cites: {f.cites}")
    ok = result.outcome in (compliance_rules.Outcome.PASS, compliance_rules.Outcome.WARN)
    return 0 if ok else 1


def _evaluate(path: Path, rules: compliance_rules.RuleSet, *, verbose: bool) -> int:
    try:
        report = evaluate(read_corpus(path), rules)
    except (OSError, compliance_rules.RuleError) as exc:
        raise UsageError(str(exc)) from exc
    for line in report.lines():
        print(line)
    if verbose:
        for text, expected, got in report.mistakes:
            print(f"expected {list(expected) or ['none']} got {list(got) or ['none']}: {text}")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    settings = load_settings()
    runtime = build_runtime(settings)
    try:
        if args.action == "list":
            rows = runtime.run_sync(
                lambda s: [
                    (r.id, g.id, r.requested_by, g.text, [f["rule"] for f in g.findings])
                    for r, g in review.pending(s)
                ]
            )
            if not rows:
                print("No kudos are waiting for review.")
            for review_id, recognition_id, by, text, rules_hit in rows:
                print(f"#{review_id} kudos {recognition_id} ({by}; {', '.join(rules_hit)}): {text}")
            return 0
        if args.id is None or not args.as_email:
            raise UsageError(f"review {args.action} needs an ID and --as EMAIL")
        if args.action == "reject" and not args.reason:
            raise UsageError("review reject needs --reason")
        reviewer = Person("email", None, args.as_email.lower(), args.as_email, email=args.as_email)
        result = runtime.run_sync(
            lambda s: review.decide(
                args.id,
                reviewer,
                approve=args.action == "approve",
                reason=args.reason,
                session=s,
                policy=runtime.policy,
                now=runtime.clock.now(),
            )
        )
    finally:
        runtime.close()
    if isinstance(result, review.NotAllowed):
        print(result.message)
        return 1
    print(f"Review #{result.review_id} {result.status}.")
    return 0


def _describe(survey: surveys.Survey) -> str:
    sched = survey.schedule
    if sched.cron:
        when = f"cron '{sched.cron}' ({sched.timezone})"
    elif sched.local_time is not None:
        day = surveys.WEEKDAYS[sched.local_day].title() + " " if sched.local_day is not None else ""
        when = f"{day}{sched.local_time:%H:%M} each person's local time"
    else:
        when = "on demand"
    return (
        f"{survey.id}: {survey.title} - {when}, open {survey.open_for}, "
        f"{'anonymous' if survey.anonymous else 'named'}, {len(survey.questions)} questions"
    )


def _channel_members(settings: Settings, channel: str, runtime: Runtime) -> list[str]:
    """Members of a Slack channel, for a round opened from the command line (with several
    workspaces installed, the channel is in the home workspace)."""
    from slack_sdk import WebClient

    from bot.slack import install as slack_install

    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    if settings.slack_multi_workspace:
        home = settings.slack_home_workspace
        if home is None:
            raise UsageError(
                f"the audience is Slack channel {channel}: set PLAUDIT_SLACK_HOME_WORKSPACE "
                "to the workspace it is in"
            )
        token = slack_install.bot_token(runtime.engine, settings.slack_client_id or "", home)
        if token is None:
            raise UsageError(f"Plaudit is not installed in Slack workspace {home}")
    if token is None:
        raise UsageError(f"the audience is Slack channel {channel}: set SLACK_BOT_TOKEN")
    client = WebClient(token=token, base_url=settings.slack_api_url)
    members: list[str] = []
    cursor = None
    while True:
        page = client.conversations_members(channel=channel, limit=1000, cursor=cursor)
        members.extend(str(m) for m in page.get("members") or [])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return members


def cmd_survey(args: argparse.Namespace) -> int:
    settings = load_settings()
    runtime = build_runtime(settings)
    try:
        if args.action == "list":
            if not runtime.surveys:
                print("No surveys are defined; add them under surveys: in plaudit.yaml.")
            for defined in runtime.surveys:
                print(_describe(defined))
                for r in runtime.run_sync(partial(_open_rounds, defined.id)):
                    print(f"  round {r.number} open until {r.closes_at:%Y-%m-%d %H:%M} UTC")
            return 0
        if not args.id:
            raise UsageError(f"survey {args.action} needs a survey ID")
        survey = runtime.survey(args.id)
        if args.action == "results":
            return _survey_results(runtime, args.id, args.round, as_json=args.json)
        if survey is None:
            known = ", ".join(s.id for s in runtime.surveys) or "none defined"
            raise UsageError(f"no survey {args.id!r} in plaudit.yaml (known: {known})")
        now = runtime.clock.now()
        if args.action == "run":
            members = (
                _channel_members(settings, survey.audience.slack_channel, runtime)
                if survey.audience.slack_channel
                else None
            )
            opened = runtime.run_sync(
                lambda s: surveys.open_round(
                    survey,
                    session=s,
                    now=now,
                    period=f"manual:{now.isoformat(timespec='seconds')}",
                    opened_by="cli",
                    channel_members=members,
                )
            )
            if isinstance(opened, surveys.Skipped):
                print(f"Not opened: {opened.reason}.")
                return 1
            assert isinstance(opened, surveys.Opened)
            print(
                f"Opened round {opened.number} of {survey.id} for {opened.invited} people; "
                f"{opened.due_now} messages queued (the running bot delivers them)."
            )
            return 0
        closed = runtime.run_sync(
            lambda s: [
                surveys.close_round(r.id, session=s, now=now, closed_by="cli")
                for r in surveys.open_rounds(s, survey.id)
                if r.id is not None
            ]
        )
        if not closed:
            print(f"No round of {survey.id} is open.")
            return 1
        for result in closed:
            if result is not None:
                print("\n".join(surveys.summary_lines(result)))
        return 0
    finally:
        runtime.close()


def _open_rounds(survey_id: str, session: Session) -> list[Any]:
    return surveys.open_rounds(session, survey_id)


def _survey_results(runtime: Runtime, survey_id: str, number: int | None, *, as_json: bool) -> int:
    def work(session: Session) -> surveys.Results | None:
        found = surveys.latest_round(session, survey_id, number)
        return surveys.results(session, found.id) if found and found.id else None

    result = runtime.run_sync(work)
    if result is None:
        which = f"round {number} of " if number else "any round of "
        print(f"There is no {which}{survey_id}.")
        return 1
    if as_json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print("\n".join(surveys.summary_lines(result)))
    return 0


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
            print(f"Sprint totals recounted from the recognitions ({counted} rows).")
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
        found = runtime.run_sync(
            lambda s: s.exec(
                select(SprintSnapshot).where(SprintSnapshot.sprint == sprint.id)
            ).first()
        )
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
        f"Fetched {report.promotions} promotions, {report.coupons} coupons, "
        f"{report.channels} channels and {report.orders} orders{since}; "
        f"{report.orders_stored} orders stored."
    )
    for award in report.awarded:
        print(f"Milestone awarded: {award.title} ({award.points} points, sprint {award.sprint})")
    if not report.awarded:
        print("No new milestones.")
    share = f" = {report.quota_share:.1%} of the quota of {report.quota}" if report.quota else ""
    print(
        f"{report.requests} API requests{share}; {report.throttled} rate-limited; "
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
            manager = session.exec(
                select(Member).where(func.lower(col(Member.email)) == args.manager.lower())
            ).first()
            if manager is None:
                raise UsageError(f"no member with email {args.manager}")
            found = digests.build(session, manager, now=runtime.clock.now(), policy=runtime.policy)
            return digests.lines(found) if found is not None else None

        shown = runtime.run_sync(work)
    finally:
        runtime.close()
    if shown is None:
        print(f"{args.manager} has no direct reports, so no digest would be sent.")
        return 1
    print("\n".join(shown))
    return 0


def cmd_roster(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.action == "import":
        rows = [roster.Row(n, v) for n, v in _read_csv(Path(args.target), roster.COLUMNS)]
    runtime = build_runtime(settings)
    try:
        if args.action == "deactivate":
            found = runtime.run_sync(
                lambda s: roster.deactivate(args.target, session=s, now=runtime.clock.now())
            )
            print(
                f"{args.target} deactivated." if found else f"No member with email {args.target}."
            )
            return 0 if found else 1

        def work(session: Session) -> tuple[roster.Report, list[str]]:
            now = runtime.clock.now()
            report = roster.import_rows(rows, session=session, now=now)
            gone: list[str] = []
            if args.deactivate_missing:
                present = {(r.values.get("email") or "").strip().lower() for r in rows}
                gone = roster.deactivate_missing(present, session=session, now=now)
            return report, gone

        report, gone = runtime.run_sync(work)
    finally:
        runtime.close()
    for line in report.lines():
        print(line)
    for email in gone:
        print(f"deactivated {email} (not in the file)")
    return 0 if not report.rejected else 1


def cmd_import(args: argparse.Namespace) -> int:
    settings = load_settings()
    mapping = _column_map(args.map)
    table = _read_csv(Path(args.file), history.COLUMNS, mapping, required=history.COLUMNS[:4])
    rows = [history.Row(line, values) for line, values in table]
    runtime = build_runtime(settings)
    try:
        report = runtime.run_sync(
            lambda s: history.import_rows(
                rows, session=s, rules=runtime.rules, policy=runtime.policy, now=runtime.clock.now()
            )
        )
    finally:
        runtime.close()
    for line in report.lines():
        print(line)
    return 0 if not report.rejected else 1


def _column_map(pairs: list[str] | None) -> dict[str, str]:
    """`--map giver_email=From` → {"from": "giver_email"} (file header → our column)."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        ours, _, theirs = pair.partition("=")
        if ours.strip() not in history.COLUMNS or not theirs.strip():
            raise UsageError(f"--map {pair!r}: use OUR_COLUMN=THEIR_HEADER, e.g. giver_email=From")
        mapping[theirs.strip().lower()] = ours.strip()
    return mapping


def _read_csv(
    path: Path,
    columns: tuple[str, ...],
    mapping: dict[str, str] | None = None,
    *,
    required: tuple[str, ...] = ("email",),
) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV export with their line numbers; headers matched case-blind."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (save the spreadsheet as CSV UTF-8)") from exc
    reader = csv.DictReader(io.StringIO(text))
    names = [h.strip().lower() for h in reader.fieldnames or []]
    headers = [(mapping or {}).get(h, h) for h in names]
    missing = [c for c in required if c not in headers]
    if missing:
        raise UsageError(
            f"{path}: the first line must name the columns, including {', '.join(missing)}"
        )
    unknown = sorted(set(headers) - set(columns))
    if unknown:
        raise UsageError(f"{path}: unknown column(s) {', '.join(unknown)}")
    reader.fieldnames = headers
    return [(reader.line_num, dict(r)) for r in reader]


def _purge(settings: Settings) -> int:
    runtime = build_runtime(settings)
    try:
        policy = runtime.retention
        if not policy.on:
            print("No retention is set (retention: in plaudit.yaml): everything is kept.")
            return 0
        now = runtime.clock.now()
        done = runtime.run_sync(lambda s: retention.purge(s, retention=policy, now=now))
    finally:
        runtime.close()
    print(f"erased {done.texts} stopped texts; unlinked {done.pv_links} PV cases")
    return 0


def cmd_privacy(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.action == "purge":
        return _purge(settings)
    if not args.member:
        raise UsageError(f"privacy {args.action} needs --member EMAIL")
    if args.action == "erase" and not args.confirm:
        raise UsageError("erasing cannot be undone; add --confirm to go ahead")
    runtime = build_runtime(settings)
    try:
        if args.action == "export":
            data = runtime.run_sync(
                lambda s: privacy.export(args.member, session=s, now=runtime.clock.now())
            )
        else:
            data = runtime.run_sync(
                lambda s: privacy.erase(args.member, session=s, now=runtime.clock.now())
            )
    finally:
        runtime.close()
    if data is None:
        print(f"No member {args.member}.")
        return 1
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if args.action == "export" and args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        intact, count, bad = queries.verify_audit(session=session)
    if intact:
        print(f"audit trail intact: {count} entries")
        return 0
    print(f"audit trail BROKEN at entry {bad} (after {count} good entries)")
    return 1


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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="plaudit", description="Peer recognition for Slack and Microsoft Teams"
    )
    sub = p.add_subparsers(dest="command", required=True)

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

    give = sub.add_parser("kudos", help="give kudos from the terminal")
    give.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    give.add_argument("text", help='e.g. "@dana thanks for the launch checklist #collaboration"')
    give.set_defaults(func=cmd_kudos)

    check = sub.add_parser("check", help="run a text through the compliance rules")
    check.add_argument("text", nargs="?", help="the text, or - to read standard input")
    check.add_argument("--json", action="store_true")
    check.add_argument("--eval", metavar="FILE.jsonl", help="score the rules on a labelled corpus")
    check.add_argument("--verbose", action="store_true", help="with --eval: list every mistake")
    check.set_defaults(func=cmd_check)

    rev = sub.add_parser("review", help="the compliance review queue")
    rev.add_argument("action", choices=["list", "approve", "reject"])
    rev.add_argument("id", nargs="?", type=int)
    rev.add_argument("--as", dest="as_email", metavar="EMAIL", help="the reviewer deciding")
    rev.add_argument("--reason", help="why it is rejected (shown to the giver)")
    rev.set_defaults(func=cmd_review)

    ros = sub.add_parser("roster", help="import the people list, deactivate leavers")
    ros.add_argument("action", choices=["import", "deactivate"])
    ros.add_argument("target", help="CSV file to import, or the email to deactivate")
    ros.add_argument(
        "--deactivate-missing",
        action="store_true",
        help="with import: deactivate members whose email is not in the file",
    )
    ros.set_defaults(func=cmd_roster)

    imp = sub.add_parser("import", help="bring over past recognitions")
    imp.add_argument("what", choices=["recognitions"])
    imp.add_argument("file", help="CSV: date, giver_email, recipient_email, message, value")
    imp.add_argument(
        "--map",
        action="append",
        metavar="OURS=THEIRS",
        help="read a column under another header, e.g. --map giver_email=From (repeatable)",
    )
    imp.set_defaults(func=cmd_import)

    priv = sub.add_parser(
        "privacy",
        help="a person's data: export or erase; purge what the retention policy says is due",
    )
    priv.add_argument("action", choices=["export", "erase", "purge"])
    priv.add_argument("--member", metavar="EMAIL", help="with export and erase: whose data")
    priv.add_argument("--out", metavar="FILE", help="with export: write the JSON here")
    priv.add_argument("--confirm", action="store_true", help="with erase: yes, really")
    priv.set_defaults(func=cmd_privacy)

    srv = sub.add_parser("survey", help="pulse surveys: list, open a round now, close, results")
    srv.add_argument("action", choices=["list", "run", "close", "results"])
    srv.add_argument("id", nargs="?", help="the survey id from plaudit.yaml")
    srv.add_argument("--round", type=int, help="with results: which round (default the latest)")
    srv.add_argument("--json", action="store_true", help="with results: machine-readable")
    srv.set_defaults(func=cmd_survey)

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

    audit = sub.add_parser("audit", help="audit trail")
    audit.add_argument("action", choices=["verify"])
    audit.set_defaults(func=cmd_audit)

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
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure_from_environment()
    try:
        code: int = args.func(args)
    except UsageError as exc:
        print(f"plaudit: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())

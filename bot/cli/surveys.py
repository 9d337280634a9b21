"""`plaudit survey`: list pulse surveys, open or close a round, show results."""

from __future__ import annotations

import argparse
import json
from functools import partial
from typing import Any

from sqlmodel import Session

from bot.cli.bootstrap import UsageError, build_runtime, load_settings
from bot.dashboard import queries_surveys
from bot.runtime import Runtime
from bot.settings import Settings
from handlers import surveys
from handlers.counts import count
from storage.models import SurveyRound


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
        f"{'anonymous' if survey.anonymous else 'named'}, "
        f"{count(len(survey.questions), 'question')}"
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
            return _list(runtime)
        if not args.id:
            raise UsageError(f"survey {args.action} needs a survey ID")
        survey = runtime.survey(args.id)
        if args.action == "results":
            return _survey_results(runtime, args.id, args.round, as_json=args.json)
        if survey is None:
            known = ", ".join(s.id for s in runtime.surveys) or "none defined"
            raise UsageError(f"no survey {args.id!r} in plaudit.yaml (known: {known})")
        if args.action == "run":
            return _open_now(settings, runtime, survey)
        return _close_open(runtime, survey)
    finally:
        runtime.close()


def _open_now(settings: Settings, runtime: Runtime, survey: surveys.Survey) -> int:
    """`survey run`: open a round outside the schedule."""
    now = runtime.clock.now()
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
            rollout=runtime.policy.rollout,
        )
    )
    if isinstance(opened, surveys.Skipped):
        print(f"Not opened: {opened.reason}.")
        return 1
    assert isinstance(opened, surveys.Opened)
    print(
        f"Opened round {opened.number} of {survey.id} for "
        f"{count(opened.invited, 'person', 'people')}; "
        f"{count(opened.due_now, 'message')} queued (the running bot delivers them)."
    )
    return 0


def _close_open(runtime: Runtime, survey: surveys.Survey) -> int:
    """`survey close`: close every open round of the survey and print its results."""
    now = runtime.clock.now()
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


def _open_rounds(survey_id: str, session: Session) -> list[Any]:
    return surveys.open_rounds(session, survey_id)


def _list(runtime: Runtime) -> int:
    """The surveys in plaudit.yaml, then those only the database knows (their rounds were
    opened under an earlier configuration, or by the demo), each with its open rounds."""
    defined = list(runtime.surveys)
    known = {s.id for s in defined}
    listing = runtime.run_sync(queries_surveys.survey_listing)
    kept = [r for r in listing if r.id not in known]
    if not defined and not kept:
        print("No surveys are defined; add them under surveys: in plaudit.yaml.")
    for survey in defined:
        print(_describe(survey))
        _print_open(runtime, survey.id)
    for row in kept:
        found = runtime.run_sync(partial(_latest, row.id))
        if found is None:
            continue
        print(
            f"{_describe(surveys.survey_from_json(found.definition))}; not in plaudit.yaml, "
            f"{count(row.rounds, 'round')} in the database"
        )
        _print_open(runtime, row.id)
    return 0


def _latest(survey_id: str, session: Session) -> SurveyRound | None:
    return surveys.latest_round(session, survey_id)


def _print_open(runtime: Runtime, survey_id: str) -> None:
    for r in runtime.run_sync(partial(_open_rounds, survey_id)):
        print(f"  round {r.number} open until {r.closes_at:%Y-%m-%d %H:%M} UTC")


def _survey_results(runtime: Runtime, survey_id: str, number: int | None, *, as_json: bool) -> int:
    """A round's results as the dashboard shows them: by default the latest closed round;
    of an open round only its participation, since results change with every answer."""
    page = runtime.run_sync(lambda s: queries_surveys.survey_round(s, survey_id, number))
    if page is None:
        which = f"round {number} of " if number else "any round of "
        print(f"There is no {which}{survey_id}.")
        return 1
    result = page.results
    if not result.closed:
        if as_json:
            keys = ("survey_id", "title", "number", "closed", "invited", "respondents")
            shown = {k: v for k, v in result.as_json().items() if k in keys}
            print(json.dumps(shown | {"participation": round(result.participation, 4)}, indent=2))
        else:
            print(surveys.summary_lines(result)[0])
            print(f"Round {result.number} is open: results when the round closes.")
        return 0
    if as_json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print("\n".join(surveys.summary_lines(result)))
    return 0


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The survey command."""
    srv = sub.add_parser("survey", help="pulse surveys: list, open a round now, close, results")
    srv.add_argument("action", choices=["list", "run", "close", "results"])
    srv.add_argument("id", nargs="?", help="the survey id from plaudit.yaml")
    srv.add_argument(
        "--round",
        type=int,
        help="with results: which round (default the latest closed one; an open round shows "
        "only its participation)",
    )
    srv.add_argument("--json", action="store_true", help="with results: machine-readable")
    srv.set_defaults(func=cmd_survey)

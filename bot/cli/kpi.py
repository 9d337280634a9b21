"""`plaudit kpi import`: KPI events from a CTMS or CRM export, checked whole, stored once."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlmodel import Session

from bot.cli.bootstrap import UsageError, build_runtime, load_settings
from bot.cli.people import _read_csv
from bot.kpi.webhook import milestone_context
from handlers import kpis


def cmd_kpi(args: argparse.Namespace) -> int:
    settings = load_settings()
    table = _read_csv(Path(args.file), kpis.FIELDS, required=("id", "kind", "date"))
    runtime = build_runtime(settings)
    try:
        now = runtime.clock.now()
        try:
            events = kpis.read_events(
                [values for _, values in table],
                now.date(),
                most=None,
                places=[f"{args.file}, line {line}" for line, _ in table],
            )
        except kpis.KpiError as exc:
            raise UsageError(f"{exc} (nothing was imported)") from exc
        context = milestone_context(runtime)

        def store(session: Session) -> kpis.Recorded:
            return kpis.record(events, session=session, now=now, source="csv", context=context)

        try:
            done = runtime.run_sync(store)
        except kpis.KpiConflict as exc:
            raise UsageError(f"{exc} (nothing was imported)") from exc
    finally:
        runtime.close()
    print(f"{done.stored} event(s) stored, {done.repeated} already there.")
    for award in done.awarded:
        print(f"milestone reached: {award.title} ({award.points} points, sprint {award.sprint})")
    return 0


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The kpi command."""
    kpi = sub.add_parser("kpi", help="import KPI events (site activated, first patient in, ...)")
    kpi.add_argument("action", choices=["import"])
    kpi.add_argument(
        "file",
        help="CSV: id, kind, date (YYYY-MM-DD); optional team, region, "
        "therapeutic_area, value, title",
    )
    kpi.set_defaults(func=cmd_kpi)

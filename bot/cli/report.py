"""`plaudit report`: the quarter on one page (HTML that prints well, or CSV) for leadership."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.cli.bootstrap import UsageError, build_runtime, load_settings
from handlers.collaboration import threshold
from handlers.exports import to_csv
from handlers.report import Quarter, quarter

TEMPLATES = Path(__file__).parent / "templates"


def html(found: Quarter) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True
    )
    return env.get_template("report.html").render(q=found)


HEADER = ("section", "measure", "value", "people")


def rows(found: Quarter) -> list[list[str]]:
    """The report as section, measure, value and people behind it ("" when held back)."""
    out: list[list[str]] = []
    e = found.everyone
    if e is not None and not e.held:
        for name, figure in (("givers per head", e.givers), ("receivers per head", e.receivers)):
            out.append(["participation", name, f"{e.per_head(figure) or 0:.3f}", str(e.heads)])
    for r in found.rounds:
        label = f"{r.title} #{r.number} ({r.opened})"
        out.append(
            ["surveys", f"{label} participation", f"{r.participation:.3f}", str(r.respondents)]
        )
        out.append(
            ["surveys", f"{label} eNPS", "" if r.enps is None else str(r.enps), str(r.respondents)]
        )
    for by, share in found.crossing.items():
        value = "" if share.share is None else f"{share.share:.3f}"
        out.append(["cross-functional", f"share of kudos across {by}s", value, ""])
    if found.comparison is not None:
        for row in found.comparison.rows:
            diff = "" if row.difference is None else str(row.difference)
            out.append(["pilots", f"{row.metric}: difference in differences", diff, ""])
    for a in found.awards:
        out.append(["milestones", a.title, str(a.points), ""])
    for kind, n in found.kpis:
        out.append(["kpis", kind, str(n), ""])
    for t in found.time_to_market:
        team = t.team or "no team named"
        out.append(["time to market", f"{team}: median days", str(t.median_days), ""])
    return out


def cmd_report(args: argparse.Namespace) -> int:
    runtime = build_runtime(load_settings())
    try:
        now = runtime.clock.now()
        calendar = runtime.policy.sprints
        period = calendar.by_id(args.period, near=now) if args.period else calendar.sprint_of(now)
        if period is None:
            raise UsageError(f"--period {args.period}: no such sprint or quarter (e.g. 2026Q4)")
        least = threshold(runtime.surveys)
        rollout = runtime.policy.rollout
        milestones = runtime.milestones
        found = runtime.run_sync(
            lambda s: quarter(
                s, period, now=now, least=least, rollout=rollout, milestones=milestones
            )
        )
    finally:
        runtime.close()
    # CSV: every cell quoted and formulas defused (titles come from outside).
    text = to_csv(HEADER, rows(found)) if args.format == "csv" else html(found)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"Wrote the {period.id} report to {args.out}.")
    else:
        sys.stdout.write(text)
    return 0


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The report command."""
    rep = sub.add_parser("report", help="the quarter on one page: HTML to print, or CSV")
    rep.add_argument("--period", help="a sprint id such as 2026Q4 (default: the current one)")
    rep.add_argument("--format", choices=["html", "csv"], default="html")
    rep.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    rep.set_defaults(func=cmd_report)

"""The administrators' view of the configuration in force: what is on, how kudos,
compliance, pilot cohorts, surveys, sprints, milestones, digests and retention are set.
Read-only (the source of truth is plaudit.yaml and the environment) and without any secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from bot.dashboard.auth import Viewer
from bot.dashboard.milestones import award_of, rule_of
from compliance_rules.model import CATEGORIES
from handlers import rollout
from handlers.counts import count
from handlers.surveys import Survey

if TYPE_CHECKING:
    from bot.dashboard.config import DashboardConfig
    from bot.dashboard.core import Dashboard
    from bot.runtime import Runtime

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[tuple[str, str]]


def _list(items: tuple[str, ...] | list[str], empty: str = "none") -> str:
    return ", ".join(items) if items else empty


def _days(value: timedelta | None) -> str:
    if value is None:
        return "none"
    hours = int(value.total_seconds() // 3600)
    return count(hours // 24, "day") if hours % 24 == 0 else count(hours, "hour")


def _schedule(s: Survey) -> str:
    sched = s.schedule
    if sched.cron:
        return f"cron {sched.cron} ({sched.timezone})"
    if sched.local_time is None:
        return "on demand (plaudit survey run)"
    day = WEEKDAYS[sched.local_day] + " " if sched.local_day is not None else "every day "
    at = sched.local_time.strftime("%H:%M") if sched.local_time else ""
    return f"{day}{at} on each person's own clock"


def _audience(s: Survey) -> str:
    a = s.audience
    parts = [
        *(f"team {t}" for t in a.teams),
        *(f"region {r}" for r in a.regions),
        *(f"area {t}" for t in a.therapeutic_areas),
    ]
    if a.slack_channel:
        parts.append(f"members of {a.slack_channel}")
    return _list(parts, "everyone active")


def _sign_in(config: DashboardConfig) -> str:
    ways = []
    if config.oidc is not None:
        ways.append(f"OpenID Connect ({config.oidc.issuer})")
    if config.proxy_header:
        ways.append(f"header {config.proxy_header} from {_list(config.trusted_proxies)}")
    ways.append("one-time links (plaudit dashboard link)")
    return _list(ways) + f"; sessions last {count(config.session_hours, 'hour')}"


def sections(
    runtime: Runtime, config: DashboardConfig, covered: dict[str, int] | None = None
) -> list[Section]:
    """The page's sections; `covered`: active members per pilot cohort, by its id."""
    status = config.status
    out = (
        [
            Section(
                "Connections",
                [(line.split(":", 1)[0], line.split(":", 1)[-1].strip()) for line in status],
            )
        ]
        if status
        else []
    )
    out += [
        _kudos(runtime),
        _compliance(runtime),
        _cohorts(runtime, covered or {}),
        _sprints(runtime),
        Section(
            "Milestones",
            [(f"{m.title} ({m.id})", f"{rule_of(m)}; {award_of(m)}") for m in runtime.milestones]
            or [("Milestones", "none configured")],
        ),
        _surveys(runtime),
        _digests(runtime),
        _retention(runtime),
        _roles(config),
    ]
    return out


def _kudos(runtime: Runtime) -> Section:
    p = runtime.policy
    return Section(
        "Kudos",
        [
            ("Values", _list(p.values)),
            ("A value is required", "yes" if p.require_value else "no"),
            ("Daily allowance", f"{count(p.daily_allowance, 'point')} a day"),
            ("Most recipients", str(p.max_recipients)),
            ("Shortest message", count(p.min_message_length, "character")),
            ("Slack reactions that give a point", _list([f":{e}:" for e in p.reaction_emoji])),
            ("Teams reactions that second a kudos", _list(p.teams_reactions)),
            ("Slack recognition channel", p.recognition_channel or "none (DMs only)"),
            ("Teams recognition channel", p.teams_recognition_channel or "none"),
            (
                "Commands a person may send a minute",
                f"{runtime.limiter.rate * 60:g}" if runtime.limiter.rate else "no limit",
            ),
        ],
    )


def _compliance(runtime: Runtime) -> Section:
    p = runtime.policy
    rules = runtime.rules
    actions = []
    for category in CATEGORIES:
        outcomes = sorted({r.outcome.value for r in rules.rules if r.category == category})
        chosen = rules.actions.get(category)
        if chosen is not None:
            actions.append((category, f"{chosen.value} (set in plaudit.yaml)"))
        elif category == "off_label" and rules.registry is not None:
            actions.append((category, "hold (product registry)"))
        else:
            actions.append((category, _list(outcomes, "no rules")))
    return Section(
        "Compliance",
        [
            ("Rule packs", _list(list(rules.packs))),
            ("Rules", str(len(rules.rules))),
            (
                "Product registry",
                count(len(rules.registry.products), "product") if rules.registry else "none",
            ),
            ("Review channel (Slack)", p.review_channel or "none"),
            ("Review channel (Teams)", p.teams_review_channel or "none"),
            ("Reviewers", _list(p.reviewers)),
            ("Drug safety channel (Slack)", p.safety_channel or "none"),
            ("Drug safety channel (Teams)", p.teams_safety_channel or "none"),
            ("Drug safety webhook", "set" if p.safety_webhook else "none"),
            ("Drug safety mailbox", p.safety_email or "none"),
            *actions,
        ],
    )


def _cohorts(runtime: Runtime, covered: dict[str, int]) -> Section:
    """The pilot cohorts (`rollout:`): who each covers, from when, and what it gets."""
    plan = runtime.policy.rollout
    if plan is None:
        return Section("Pilot cohorts", [("Rollout", "none: Plaudit is on for everyone")])
    today = runtime.clock.now().date()
    outside = "on" if plan.outside == "on" else "off (a polite refusal; no survey invitations)"
    rows = [("Everyone in no started cohort", outside)]
    for c in plan.cohorts:
        selectors = [
            *(f"team {t}" for t in c.teams),
            *(f"region {r}" for r in c.regions),
            *(f"area {a}" for a in c.therapeutic_areas),
            *c.people,
        ]
        since = "since" if c.start <= today else "from"
        rows.append(
            (
                f"{c.title} ({c.id})",
                f"{_MODES[c.mode]}; {since} {c.start.isoformat()}; {_list(selectors)}; "
                f"{count(covered.get(c.id, 0), 'active member')} today",
            )
        )
    return Section("Pilot cohorts", rows)


_MODES = {
    "on": "on",
    "shadow": "shadow (measured, not announced)",
    "control": "control group (surveyed, no kudos)",
}


def _sprints(runtime: Runtime) -> Section:
    cal = runtime.policy.sprints
    sprint_rows = [
        ("Time zone", cal.timezone),
        (
            "Sprints",
            _list([f"{r.id}: {r.start} to {r.end}" for r in cal.ranges])
            if cal.ranges
            else f"quarters, the fiscal year starting in month {cal.fiscal_start_month}",
        ),
        ("Board channel", runtime.boards.channel or "the recognition channel"),
        ("Rows posted", str(runtime.boards.top)),
        ("Left off the boards", _list(runtime.boards.exclude)),
        (
            "Board updates",
            f"cron {runtime.boards.update_cron} ({runtime.boards.update_timezone})"
            if runtime.boards.update_cron
            else "at the end of each sprint",
        ),
    ]
    return Section("Sprints", sprint_rows)


def _surveys(runtime: Runtime) -> Section:
    return Section(
        "Surveys",
        [
            (
                f"{s.title} ({s.id})",
                f"{_schedule(s)}; audience {_audience(s)}; open {_days(s.open_for)}; "
                f"{'anonymous, ' if s.anonymous else 'named, '}"
                f"results shown from {count(s.min_responses, 'answer')}; "
                f"{count(len(s.questions), 'question')}",
            )
            for s in runtime.surveys
        ]
        or [("Surveys", "none configured")],
    )


def _digests(runtime: Runtime) -> Section:
    d = runtime.digests
    return Section(
        "Digests",
        [
            (
                "Managers' digest",
                f"{WEEKDAYS[d.weekday]} {d.at.strftime('%H:%M')} on each manager's clock; "
                f"a quiet week {'sends a short note' if d.empty == 'note' else 'sends nothing'}"
                if d
                else "off",
            )
        ],
    )


def _retention(runtime: Runtime) -> Section:
    r = runtime.retention
    return Section(
        "Retention",
        [
            (
                "Texts the gate stopped",
                f"erased after {count(r.stopped_text_days, 'day')}"
                if r.stopped_text_days
                else "kept",
            ),
            (
                "PV cases' links to chat",
                f"cut after {count(r.pv_link_days, 'day')}" if r.pv_link_days else "kept",
            ),
        ],
    )


def _roles(config: DashboardConfig) -> Section:
    return Section(
        "Dashboard roles",
        [
            ("Administrators", _list(config.admins, "none (roster roles only)")),
            ("Reviewers", _list(config.reviewers, "none (roster roles only)")),
            ("Safety team", _list(config.safety, "none (roster roles only)")),
            (
                "What members see of the leaderboard",
                f"the first {count(config.members_see_top, 'place')} and their own row"
                if config.members_see_top
                else "every place",
            ),
            ("Sign-in", _sign_in(config)),
        ],
    )


async def configuration_page(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    plan = d.runtime.policy.rollout
    covered = await d.runtime.run(lambda s: rollout.coverage(s, plan)) if plan else None
    return d.render(
        request,
        "configuration.html",
        viewer=viewer,
        page="configuration",
        title="Configuration",
        sections=sections(d.runtime, d.config, covered),
    )

"""What every command starts from: the settings, the runtime, and the error to print."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlmodel import Session

import compliance_rules
from bot import config as org_config
from bot.chat.ratelimit import PerUserLimit
from bot.runtime import BoardSettings, Runtime, StoreSettings
from bot.settings import Settings
from handlers import sprints
from storage import migrate
from storage.db import make_engine

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

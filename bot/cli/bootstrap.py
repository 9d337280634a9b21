"""What every command starts from: the settings, the runtime, and the error to print."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

from pydantic import SecretStr, ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError

import compliance_rules
from bot import config as org_config
from bot import status
from bot.chat.ratelimit import PerUserLimit
from bot.runtime import BoardSettings, Runtime, StoreSettings
from bot.settings import Settings
from handlers import i18n
from handlers.collaboration import threshold
from handlers.counts import count
from handlers.leaderboard import recount
from handlers.policy import KudosPolicy
from handlers.surveys import Survey
from storage import migrate, pv_cases
from storage.audit import AuditKey, AuditKeyError
from storage.db import connection_problem, make_engine, masked, transaction
from storage.vault import Vault, VaultError

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


def build_runtime(settings: Settings, *, upgrade: bool = True, serving: bool = False) -> Runtime:
    """The runtime of a command; `serving` (chat): refused without a drug-safety destination."""
    try:
        org = org_config.load(settings.config_path)
    except org_config.ConfigError as exc:
        raise UsageError(str(exc)) from exc
    i18n.configure(org.language)
    problem = safety_problem(settings, org.policy()) if serving else None
    if problem:
        raise UsageError(problem)
    secret = survey_secret(settings, org.survey_definitions(), serving=serving)
    vault = pv_vault(settings, serving=serving)
    key = sealing_key(settings, serving=serving)
    try:
        rules = org.compliance.rules(settings.config_path.resolve().parent)
    except compliance_rules.RuleError as exc:
        raise UsageError(str(exc)) from exc
    engine = make_engine(settings.database_url)
    if upgrade:
        with database_errors(settings.database_url):
            migrate.upgrade(engine)
    runtime = Runtime(
        engine=engine,
        policy=replace(org.policy(), pv_vault=vault),
        rules=rules,
        surveys=org.survey_definitions(),
        milestones=org.milestone_definitions(),
        digests=(
            replace(org.digests.schedule(), least=threshold(org.survey_definitions()))
            if org.digests.enabled
            else None
        ),
        limiter=PerUserLimit(
            per_minute=settings.commands_per_minute,
            burst=max(1, int(settings.commands_per_minute // 2)),
        ),
        admins=tuple(org.dashboard.admins),
        safety=tuple(org.dashboard.safety),
        members_see_top=org.dashboard.members_see_top,
        retention=org.retention.retention(),
        survey_secret=secret,
        audit_key=key,
        store=StoreSettings(
            sync_every=org.bigcommerce.interval, quota_share=org.bigcommerce.quota_share
        ),
        boards=_boards(settings, org),
    )
    with database_errors(settings.database_url):
        if upgrade:
            _recount_if_needed(runtime, background=serving)
        if vault is not None:
            _seal_plain_cases(runtime, vault)
    return runtime


def _boards(settings: Settings, org: org_config.OrgConfig) -> BoardSettings:
    """How sprint boards are posted, from `sprints:` and the Slack workspace settings."""
    return BoardSettings(
        channel=org.sprints.channel,
        top=org.sprints.top,
        exclude=tuple(org.sprints.exclude),
        update_cron=org.sprints.update.cron if org.sprints.update else None,
        update_timezone=org.sprints.update.timezone if org.sprints.update else None,
        slack_workspace=(settings.slack_home_workspace if settings.slack_multi_workspace else None),
        slack_only=settings.slack_isolated,
        rules={
            "sprints": org.sprints.model_dump(mode="json"),
            "milestones": [m.model_dump(mode="json") for m in org.milestones],
            "values": list(org.recognition.values),
        },
    )


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """A database that cannot be reached, as one line naming the setting (no traceback)."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise UsageError(
            f"PLAUDIT_DATABASE_URL: cannot use the database at {masked(url)}: "
            f"{connection_problem(exc)}"
        ) from exc


def safety_problem(settings: Settings, policy: KudosPolicy) -> str | None:
    """Why serving Slack or Teams with `policy` would drop possible adverse events, or None.

    A destination counts only when its sender runs, since otherwise its rows wait forever."""
    if not settings.chat_enabled:
        return None
    reached, unreachable = status.drug_safety(settings, policy)
    if reached:
        return None
    why = f" ({'; '.join(unreachable)})" if unreachable else ""
    return (
        f"{settings.config_path} names no drug-safety destination that Plaudit can reach{why}, "
        "so a possible adverse event reported in Slack or Teams would be recorded but "
        "reach no one; Plaudit will not serve chat like this. Set at least one of "
        "compliance.safety_channel (a Slack channel id, e.g. C0123SAFETY), "
        "compliance.safety_webhook (an https URL that receives each case as JSON), "
        "compliance.safety_email (a mailbox; also set PLAUDIT_SMTP_HOST) or "
        "teams.safety_channel (a Teams channel's conversation id, 19:...@thread.tacv2), "
        "then start again."
    )


def survey_secret(
    settings: Settings, definitions: tuple[Survey, ...], *, serving: bool
) -> bytes | None:
    """PLAUDIT_SURVEY_SECRET as a key; serving chat with an anonymous survey needs one.

    Without it, anonymous answers would be keyed by a key held in memory only: a restart
    would forget who answered an open round (a second answer would count twice), and
    replicas would not know each other's respondents."""
    if settings.survey_secret is not None:
        return settings.survey_secret.get_secret_value().encode()
    anonymous = sorted(s.id for s in definitions if s.anonymous)
    if serving and anonymous and settings.chat_enabled:
        raise UsageError(
            f"PLAUDIT_SURVEY_SECRET is required: {settings.config_path} has anonymous surveys "
            f"({', '.join(anonymous)}), whose answers are keyed to their respondents by it "
            "while a round is open (it is never written to the database). Set it to at "
            "least 32 random characters (e.g. openssl rand -hex 32), keep it out of database "
            "backups, and start again."
        )
    return None


def pv_vault(settings: Settings, *, serving: bool) -> Vault | None:
    """The key PV case texts are sealed with (PLAUDIT_PV_KEY or PLAUDIT_PV_KEY_FILE);
    serving chat needs one, since a case opened without it keeps only a redacted text."""
    try:
        raw = _secret_or_file(settings.pv_key, settings.pv_key_file, "PLAUDIT_PV_KEY")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if raw is not None:
        try:
            return Vault.parse(raw)
        except VaultError as exc:
            raise UsageError(
                f"PLAUDIT_PV_KEY_FILE: {exc} (make one with plaudit pv keygen)"
            ) from exc
    if serving and settings.chat_enabled:
        raise UsageError(
            "PLAUDIT_PV_KEY is required: the original text of each possible adverse event is "
            "kept for the drug-safety team sealed with it (AES-256-GCM), and it is never "
            "written to the database. Make one with plaudit pv keygen, set PLAUDIT_PV_KEY "
            "(or PLAUDIT_PV_KEY_FILE, a file holding it), keep it out of database backups, "
            "and start again."
        )
    return None


def sealing_key(settings: Settings, *, serving: bool) -> AuditKey | None:
    """The audit key (PLAUDIT_AUDIT_KEY or PLAUDIT_AUDIT_KEY_FILE); serving chat needs one,
    since entries written without it wait unsealed."""
    try:
        raw = _secret_or_file(settings.audit_key, settings.audit_key_file, "PLAUDIT_AUDIT_KEY")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if raw is not None:
        try:
            return AuditKey.parse(raw)  # a bad PLAUDIT_AUDIT_KEY is refused by Settings
        except AuditKeyError as exc:
            raise UsageError(f"PLAUDIT_AUDIT_KEY_FILE: {exc}") from exc
    if serving and settings.chat_enabled:
        raise UsageError(
            "PLAUDIT_AUDIT_KEY is required: the audit trail is sealed with it (HMAC-SHA256) "
            "and its checkpoints are signed with a key derived from it, so that no one who "
            "can only edit the database can rewrite or shorten the trail unseen; it is never "
            "written to the database. Make one with plaudit audit keygen, set "
            "PLAUDIT_AUDIT_KEY (or PLAUDIT_AUDIT_KEY_FILE, a file holding it), keep it out of "
            "database backups, and start again."
        )
    return None


def _secret_or_file(value: SecretStr | None, path: Path | None, setting: str) -> str | None:
    """A key as configured: `setting`'s value, else the text of the file `<setting>_FILE`
    names; None when neither is set. ValueError names a file that cannot be read."""
    if value is not None and value.get_secret_value().strip():
        return value.get_secret_value()
    if path is None:
        return None
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ValueError(f"{setting}_FILE: cannot read {path}: {exc}") from exc
    return text if text.strip() else None


def _seal_plain_cases(runtime: Runtime, vault: Vault) -> None:
    """Seal texts of cases kept plain (opened before a key was set, or by an earlier
    version), and drop copies of them from drug-safety notifications."""
    with transaction(runtime.engine) as session:
        done = pv_cases.seal_plain(session, vault)
    if done.cases or done.notices:
        log.info(
            "sealed %s kept plain; removed the text from %s",
            count(done.cases, "PV case text"),
            count(done.notices, "notification"),
        )


def _recount_if_needed(runtime: Runtime, *, background: bool = False) -> None:
    """Sprint totals were counted under other sprint settings (or never): count again. A
    server (`background`) only marks the recount pending and starts at once; its scheduler
    recounts, and boards say they are being recounted until then."""
    calendar = runtime.policy.sprints
    now = runtime.clock.now()
    if not runtime.run_sync(partial(recount.mark, calendar=calendar, now=now)):
        return
    if background:
        log.info("sprint totals are recounted in the background for the current sprint settings")
        return
    read = recount.reader(runtime.engine, runtime.run_sync)
    done = recount.recount(calendar, read=read, write=runtime.run_sync, now=now)
    if done is not None and done.finished:
        log.info(
            "sprint totals recounted for the current sprint settings (%s)",
            count(done.sprints, "sprint"),
        )

"""The start-up status lines: what is on, and what to set to turn the rest on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers import safety

if TYPE_CHECKING:
    from bot.settings import Settings
    from handlers.policy import KudosPolicy

# The plaudit.yaml key behind each kind of drug-safety destination.
SAFETY_KEYS = {
    "slack": "compliance.safety_channel",
    "teams": "teams.safety_channel",
    "webhook": "compliance.safety_webhook",
    "email": "compliance.safety_email",
}


def status_lines(settings: Settings, policy: KudosPolicy | None = None) -> list[str]:
    """One line per part: the database, Slack, Teams, where drug-safety cases go (given the
    policy), the dashboard, BigCommerce, email and the organisation settings file."""
    lines = [f"Database: {_redact_url(settings.database_url)}"]
    lines.append(_slack(settings))
    lines.append(_teams(settings))
    if policy is not None:
        lines.append(_drug_safety(settings, policy))
        lines.append(
            f"PV case texts: sealed (AES-256-GCM, key {policy.pv_vault.key_id})"
            if policy.pv_vault is not None
            else "PV case texts: kept redacted, originals not kept (set PLAUDIT_PV_KEY)"
        )
    lines.append(_dashboard(settings))
    lines.append(
        f"BigCommerce: store {settings.bigcommerce_store_hash}"
        + (", webhooks on" if settings.bigcommerce_webhook_secret else "")
        if settings.bigcommerce_enabled
        else "BigCommerce: off (set BIGCOMMERCE_STORE_HASH and BIGCOMMERCE_ACCESS_TOKEN)"
    )
    lines.append(
        f"Email (drug safety): via {settings.smtp_host}:{settings.smtp_port}"
        if settings.smtp_host
        else "Email (drug safety): off (set PLAUDIT_SMTP_HOST to send PV cases by email)"
    )
    path = settings.config_path
    lines.append(
        f"Organisation settings: {path}"
        if path.exists()
        else f"Organisation settings: defaults ({path} not found; copy plaudit.example.yaml)"
    )
    return lines


def drug_safety(settings: Settings, policy: KudosPolicy) -> tuple[list[str], list[str]]:
    """(the destinations a drug-safety case reaches, and why each other one configured in
    plaudit.yaml cannot be reached: its sender is off, so its rows would wait forever)."""
    on = {
        "slack": settings.slack_enabled,
        "teams": settings.teams_enabled,
        "webhook": True,
        "email": bool(settings.smtp_host),
    }
    off = {"slack": "Slack is off", "teams": "Teams is off", "email": "PLAUDIT_SMTP_HOST is not"}
    reached: list[str] = []
    unreachable: list[str] = []
    for where in safety.destinations(policy):
        kind = where.split(":", 1)[0]
        if on[kind]:
            reached.append(where)
        else:
            unreachable.append(f"{SAFETY_KEYS[kind]} is set but {off[kind]}")
    return reached, unreachable


def _drug_safety(settings: Settings, policy: KudosPolicy) -> str:
    reached, unreachable = drug_safety(settings, policy)
    why = f" ({'; '.join(unreachable)})" if unreachable else ""
    if reached:
        return f"Drug safety: possible adverse events go to {', '.join(reached)}{why}"
    return (
        "Drug safety: NOWHERE, possible adverse events are recorded but reach no one"
        f"{why} (set {', '.join(SAFETY_KEYS.values())} in plaudit.yaml)"
    )


def _slack(settings: Settings) -> str:
    if settings.slack_multi_workspace:
        together = "one organisation" if settings.slack_organisation == "single" else "separate"
        home = (
            f"channels of plaudit.yaml in {settings.slack_home_workspace}"
            if settings.slack_home_workspace
            else "set PLAUDIT_SLACK_HOME_WORKSPACE if plaudit.yaml names channels"
        )
        return (
            f"Slack: on (multi-workspace, install at {settings.public_url}/slack/install; "
            f"workspaces counted {together}; {home})"
        )
    if settings.slack_socket_mode:
        return "Slack: on (Socket Mode, no inbound HTTP)"
    if settings.slack_enabled:
        return "Slack: on (HTTP mode, POST /slack/events)"
    has_transport = (
        settings.slack_app_token is not None or settings.slack_signing_secret is not None
    )
    missing = ["SLACK_BOT_TOKEN"] if settings.slack_bot_token is None else []
    if not has_transport:
        missing.append("SLACK_SIGNING_SECRET")
    socket_hint = ", or SLACK_APP_TOKEN instead of the secret for Socket Mode"
    if has_transport:
        socket_hint = ""
    return f"Slack: off (set {' and '.join(missing)} to turn it on{socket_hint})"


def _teams(settings: Settings) -> str:
    tenants = settings.teams_allowed_tenants
    served = (
        "any tenant"
        if tenants is None
        else f"tenant{'s' if len(tenants) > 1 else ''} {', '.join(sorted(tenants))}"
        if tenants
        else "NO TENANT (set PLAUDIT_TEAMS_TENANTS)"
    )
    if settings.teams_unauthenticated:
        return f"Teams: on WITHOUT authentication (emulator only, {served}, POST /api/messages)"
    if settings.teams_enabled:
        return (
            f"Teams: on (app {settings.microsoft_app_id}, {settings.microsoft_app_type}, "
            f"{served}, POST /api/messages)"
        )
    return "Teams: off (set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD)"


def _dashboard(settings: Settings) -> str:
    if not settings.dashboard_enabled:
        return "Dashboard: off (set PLAUDIT_DASHBOARD_SECRET to serve /dashboard)"
    ways = [
        w
        for w, on in (
            ("OpenID Connect", settings.oidc_enabled),
            (f"header {settings.auth_proxy_header}", bool(settings.auth_proxy_header)),
        )
        if on
    ]
    return (
        "Dashboard: on at /dashboard, sign-in by " + " and ".join(ways)
        if ways
        else "Dashboard: on at /dashboard, but NO ONE CAN SIGN IN (set PLAUDIT_OIDC_* "
        "or PLAUDIT_AUTH_PROXY_HEADER)"
    )


def _redact_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url

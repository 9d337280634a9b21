"""Process settings from the environment and `.env`; secrets never have defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from bot.audit.settings import AuditSettings
from bot.kpi.settings import KpiSettings
from bot.process_settings import ProcessSettings
from bot.status import status_lines as _status_lines
from storage.vault import Vault, VaultError

SLACK_API_DEFAULT = "https://slack.com/api/"
_TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The bot scopes of app_manifest.yaml: what an OAuth install asks each workspace for.
SLACK_BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:read",
    "files:write",
    "groups:read",
    "im:history",
    "im:write",
    "reactions:read",
    "users:read",
    "users:read.email",
)


class Settings(ProcessSettings, AuditSettings, KpiSettings):
    """Every setting: the process's (database, address, logs, edge limits) and the rest."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    config_path: Path = Field(Path("plaudit.yaml"), alias="PLAUDIT_CONFIG")

    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    # App-level token (connections:write): with it, Slack is reached over Socket Mode, an
    # outbound websocket, instead of HTTP requests to /slack/events.
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(SLACK_API_DEFAULT, alias="SLACK_API_URL")
    # Multi-workspace: the app's OAuth credentials instead of one bot token. Each workspace
    # installs Plaudit at /slack/install; its bot token is kept in the database.
    slack_client_id: str | None = Field(None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, alias="SLACK_CLIENT_SECRET")
    slack_scopes: str = Field(",".join(SLACK_BOT_SCOPES), alias="SLACK_SCOPES")
    # Seconds an install link stays valid (between /slack/install and Slack's redirect).
    slack_state_expiration: int = Field(
        600, alias="PLAUDIT_SLACK_STATE_EXPIRATION", ge=60, le=86400
    )
    # per_workspace: boards and /kudos me count each workspace apart; single: they share them.
    slack_organisation: Literal["per_workspace", "single"] = Field(
        "per_workspace", alias="PLAUDIT_SLACK_ORGANISATION"
    )
    # The workspace (team id) where the channels named in plaudit.yaml live: reviews,
    # drug-safety alerts, sprint boards, survey results and survey audiences.
    slack_home_workspace: str | None = Field(None, alias="PLAUDIT_SLACK_HOME_WORKSPACE")
    # Team ids (comma-separated) that may install Plaudit; empty: any workspace Slack's
    # distribution settings let install it.
    slack_workspaces: str = Field("", alias="PLAUDIT_SLACK_WORKSPACES")
    # Messages a second the bot sends into one Slack workspace, all channels together. After
    # a 429 it pauses as told and sends a little slower, creeping back up to this ceiling.
    slack_rate: float = Field(20.0, alias="PLAUDIT_SLACK_RATE", gt=0, le=1000)

    # Chat commands (/kudos, @Plaudit ...) one person may send a minute; 0 turns it off.
    commands_per_minute: float = Field(20.0, alias="PLAUDIT_COMMANDS_PER_MINUTE", ge=0, le=10000)

    # Microsoft Teams (Azure Bot registration). Without an app id Teams is off.
    microsoft_app_id: str | None = Field(None, alias="MICROSOFT_APP_ID")
    microsoft_app_password: SecretStr | None = Field(None, alias="MICROSOFT_APP_PASSWORD")
    microsoft_app_tenant_id: str | None = Field(None, alias="MICROSOFT_APP_TENANT_ID")
    microsoft_app_type: Literal["SingleTenant", "MultiTenant", "UserAssignedMSI"] = Field(
        "SingleTenant", alias="MICROSOFT_APP_TYPE"
    )
    # The Azure AD tenants (ids, comma-separated) whose Teams activities are handled; every
    # other tenant's get 403. Required with MICROSOFT_APP_TYPE=MultiTenant; a single-tenant
    # app handles only MICROSOFT_APP_TENANT_ID.
    teams_tenants: str = Field("", alias="PLAUDIT_TEAMS_TENANTS")
    # Only for a local emulator: accept unsigned activities on a loopback host.
    teams_allow_unauthenticated: bool = Field(False, alias="PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED")
    # Sovereign clouds, private rigs: inbound token keys, issuer, and the bots' token authority.
    microsoft_openid_metadata_url: str | None = Field(None, alias="MICROSOFT_OPENID_METADATA_URL")
    microsoft_token_issuer: str | None = Field(None, alias="MICROSOFT_TOKEN_ISSUER")
    microsoft_login_url: str | None = Field(None, alias="MICROSOFT_LOGIN_URL")
    # The SDK carrying Teams traffic: Microsoft 365 Agents SDK, or botbuilder (archived).
    teams_sdk: Literal["agents", "botbuilder"] = Field("agents", alias="PLAUDIT_TEAMS_SDK")

    # Web dashboard at /dashboard: on when a secret is set; people sign in through OpenID
    # Connect or a header set by a trusted single-sign-on proxy.
    dashboard_secret: SecretStr | None = Field(None, alias="PLAUDIT_DASHBOARD_SECRET")
    public_url: str | None = Field(None, alias="PLAUDIT_PUBLIC_URL")
    auth_proxy_header: str | None = Field(None, alias="PLAUDIT_AUTH_PROXY_HEADER")
    auth_trusted_proxies: str = Field("127.0.0.1", alias="PLAUDIT_AUTH_TRUSTED_PROXIES")
    oidc_issuer: str | None = Field(None, alias="PLAUDIT_OIDC_ISSUER")
    oidc_client_id: str | None = Field(None, alias="PLAUDIT_OIDC_CLIENT_ID")
    oidc_client_secret: SecretStr | None = Field(None, alias="PLAUDIT_OIDC_CLIENT_SECRET")

    # BigCommerce store whose campaign milestones count towards sprint boards.
    bigcommerce_store_hash: str | None = Field(None, alias="BIGCOMMERCE_STORE_HASH")
    bigcommerce_access_token: SecretStr | None = Field(None, alias="BIGCOMMERCE_ACCESS_TOKEN")
    bigcommerce_api_url: str = Field("https://api.bigcommerce.com", alias="BIGCOMMERCE_API_URL")
    # Shared secret BigCommerce sends in the X-Plaudit-Webhook-Secret header of webhooks.
    bigcommerce_webhook_secret: SecretStr | None = Field(None, alias="BIGCOMMERCE_WEBHOOK_SECRET")

    # Mail server for drug-safety notifications by email (compliance.safety_email).
    smtp_host: str | None = Field(None, alias="PLAUDIT_SMTP_HOST")
    smtp_port: int = Field(587, alias="PLAUDIT_SMTP_PORT", ge=1, le=65535)
    smtp_user: str | None = Field(None, alias="PLAUDIT_SMTP_USER")
    smtp_password: SecretStr | None = Field(None, alias="PLAUDIT_SMTP_PASSWORD")
    smtp_starttls: bool = Field(True, alias="PLAUDIT_SMTP_STARTTLS")
    smtp_from: str = Field("plaudit@localhost", alias="PLAUDIT_SMTP_FROM")

    # Keys anonymous survey answers to their respondents while a round is open; it is never
    # written to the database. Required to serve chat when plaudit.yaml has anonymous surveys.
    survey_secret: SecretStr | None = Field(None, alias="PLAUDIT_SURVEY_SECRET")

    # Seals each PV case's original text (AES-256-GCM): one or more keys from `plaudit pv
    # keygen`, comma-separated, the first sealing; or a file holding them. Never in the
    # database; required to serve chat.
    pv_key: SecretStr | None = Field(None, alias="PLAUDIT_PV_KEY")
    pv_key_file: Path | None = Field(None, alias="PLAUDIT_PV_KEY_FILE")

    @field_validator("survey_secret", "dashboard_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 32:
            raise ValueError("use at least 32 random characters (e.g. openssl rand -hex 32)")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("a bot token starts with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith("xapp-"):
            raise ValueError(
                "an app-level token starts with xapp- (Basic Information > App-Level Tokens, "
                "with the connections:write scope)"
            )
        return value

    @field_validator("slack_client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.fullmatch(r"[0-9]+\.[0-9]+", value):
            raise ValueError(
                "use the app's Client ID (Basic Information > App Credentials, e.g. 1234.5678)"
            )
        return value

    @field_validator("slack_scopes")
    @classmethod
    def _scopes(cls, value: str) -> str:
        scopes = [s.strip() for s in value.split(",") if s.strip()]
        if not scopes:
            raise ValueError("name at least one bot scope (comma-separated)")
        return ",".join(scopes)

    @field_validator("slack_home_workspace")
    @classmethod
    def _home(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.fullmatch(r"T[A-Z0-9]{2,30}", value):
            raise ValueError("use the workspace's team id (e.g. T0123ABCD)")
        return value

    @field_validator("slack_workspaces")
    @classmethod
    def _workspaces(cls, value: str) -> str:
        teams = [t.strip() for t in value.split(",") if t.strip()]
        for team in teams:
            if not re.fullmatch(r"T[A-Z0-9]{2,30}", team):
                raise ValueError(f"{team!r} is not a workspace's team id (e.g. T0123ABCD)")
        return ",".join(teams)

    @field_validator("teams_tenants")
    @classmethod
    def _tenants(cls, value: str) -> str:
        tenants = [t.strip().lower() for t in value.split(",") if t.strip()]
        for tenant in tenants:
            if not _TENANT_ID.fullmatch(tenant):
                raise ValueError(f"{tenant!r} is not a tenant id (Entra ID > Overview > Tenant ID)")
        return ",".join(dict.fromkeys(tenants))

    @property
    def teams_allowed_tenants(self) -> frozenset[str] | None:
        """The tenants whose Teams activities are handled (a single-tenant app: its own; a
        multi-tenant one: PLAUDIT_TEAMS_TENANTS); None (any) only for a bare emulator."""
        listed = frozenset(t for t in self.teams_tenants.split(",") if t)
        own = (self.microsoft_app_tenant_id or "").strip().lower()
        if self.teams_unauthenticated:
            return listed or (frozenset({own}) if own else None)
        if self.microsoft_app_type == "MultiTenant":
            return listed
        return frozenset({own}) if own else frozenset()

    @property
    def slack_allowed_workspaces(self) -> frozenset[str]:
        return frozenset(t for t in self.slack_workspaces.split(",") if t)

    @field_validator("slack_signing_secret", "slack_client_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        what = "signing" if info.field_name == "slack_signing_secret" else "client"
        if value.get_secret_value() in {"changeme", f"your-{what}-secret"}:
            raise ValueError(f"replace the placeholder with the app's {what} secret")
        return value

    @field_validator("pv_key")
    @classmethod
    def _pv_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            Vault.parse(value.get_secret_value())
        except VaultError as exc:
            raise ValueError(f"{exc} (make one with plaudit pv keygen)") from exc
        return value

    @field_validator("bigcommerce_api_url")
    @classmethod
    def _bc_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @property
    def bigcommerce_enabled(self) -> bool:
        return bool(self.bigcommerce_store_hash) and self.bigcommerce_access_token is not None

    @field_validator("public_url", "oidc_issuer")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @property
    def dashboard_enabled(self) -> bool:
        return self.dashboard_secret is not None

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)

    def dashboard_problem(self) -> str | None:
        """Why the dashboard settings cannot be used as they are, or None."""
        if not self.dashboard_enabled:
            return None
        if self.oidc_issuer and not self.oidc_enabled:
            return "PLAUDIT_OIDC_ISSUER needs PLAUDIT_OIDC_CLIENT_ID and PLAUDIT_OIDC_CLIENT_SECRET"
        if self.oidc_enabled and not self.public_url:
            return "OpenID Connect sign-in needs PLAUDIT_PUBLIC_URL (the address people use)"
        return None

    @property
    def chat_enabled(self) -> bool:
        """Slack or Teams is served, so people can report what drug safety must hear."""
        return self.slack_enabled or self.teams_enabled

    @property
    def teams_enabled(self) -> bool:
        return bool(self.microsoft_app_id) or self.teams_unauthenticated

    @property
    def teams_unauthenticated(self) -> bool:
        """Emulator mode: no app id, and explicitly allowed."""
        return not self.microsoft_app_id and self.teams_allow_unauthenticated

    def teams_problem(self, host: str | None = None) -> str | None:
        """Why the Teams settings cannot be used as they are (serving on `host`), or None."""
        host = host or self.host
        if self.teams_unauthenticated and host not in ("127.0.0.1", "::1", "localhost"):
            return (
                "PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED=true is only allowed on a loopback host "
                f"(the server would listen on {host}); set MICROSOFT_APP_ID and "
                "MICROSOFT_APP_PASSWORD instead"
            )
        if not self.microsoft_app_id:
            return None
        app_type = self.microsoft_app_type
        if app_type != "UserAssignedMSI" and self.microsoft_app_password is None:
            return "MICROSOFT_APP_PASSWORD is required with MICROSOFT_APP_ID"
        if app_type in ("SingleTenant", "UserAssignedMSI") and not self.microsoft_app_tenant_id:
            return f"MICROSOFT_APP_TENANT_ID is required when MICROSOFT_APP_TYPE is {app_type}"
        return self._tenants_problem()

    def _tenants_problem(self) -> str | None:
        listed = {t for t in self.teams_tenants.split(",") if t}
        own = (self.microsoft_app_tenant_id or "").strip().lower()
        if self.microsoft_app_type == "MultiTenant" and not listed:
            return (
                "PLAUDIT_TEAMS_TENANTS is required when MICROSOFT_APP_TYPE is MultiTenant: "
                "list the tenant ids (comma-separated) whose Teams users may use Plaudit; "
                "without it, people of any organisation could reach the bot"
            )
        others = sorted(listed - {own})
        if others and self.microsoft_app_type != "MultiTenant":
            return (
                f"PLAUDIT_TEAMS_TENANTS names {', '.join(others)}, but a "
                f"{self.microsoft_app_type} app serves only MICROSOFT_APP_TENANT_ID; set "
                "MICROSOFT_APP_TYPE=MultiTenant to serve several tenants"
            )
        return None

    @property
    def slack_socket_mode(self) -> bool:
        """Slack over Socket Mode: a bot token and an app-level token (no signing secret)."""
        return self.slack_bot_token is not None and self.slack_app_token is not None

    @property
    def slack_oauth_configured(self) -> bool:
        return self.slack_client_id is not None and self.slack_client_secret is not None

    @property
    def slack_multi_workspace(self) -> bool:
        """Installed by OAuth into any number of workspaces: client id, client secret and
        signing secret, and no single bot token (`slack_problem` refuses both)."""
        return (
            self.slack_oauth_configured
            and self.slack_signing_secret is not None
            and self.slack_bot_token is None
            and self.slack_app_token is None
        )

    @property
    def slack_isolated(self) -> bool:
        """Boards and personal numbers count each workspace on its own."""
        return self.slack_multi_workspace and self.slack_organisation == "per_workspace"

    @property
    def slack_redirect_uri(self) -> str | None:
        return f"{self.public_url}/slack/oauth_redirect" if self.public_url else None

    @property
    def slack_enabled(self) -> bool:
        """A bot token, and either an app-level token (Socket Mode) or a signing secret (HTTP);
        or the OAuth credentials of a multi-workspace install."""
        return (
            self.slack_socket_mode
            or self.slack_multi_workspace
            or (self.slack_bot_token is not None and self.slack_signing_secret is not None)
        )

    def slack_problem(self) -> str | None:
        """Why the Slack settings cannot be used as they are, or None."""
        if (self.slack_client_id is None) != (self.slack_client_secret is None):
            return "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together"
        if not self.slack_oauth_configured:
            return None
        if self.slack_bot_token is not None or self.slack_app_token is not None:
            return (
                "set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET (installed into many workspaces by OAuth), not both; "
                "a multi-workspace install does not use Socket Mode (SLACK_APP_TOKEN)"
            )
        if self.slack_signing_secret is None:
            return "a multi-workspace install needs SLACK_SIGNING_SECRET"
        if not self.public_url:
            return (
                "a multi-workspace install needs PLAUDIT_PUBLIC_URL: Slack sends installers "
                "back to <it>/slack/oauth_redirect"
            )
        return None

    def status_lines(self) -> list[str]:
        """What is on, and what to set to turn the rest on (see `bot.status`)."""
        return _status_lines(self)

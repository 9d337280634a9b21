"""Process settings from the environment and `.env`; secrets never have defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SLACK_API_DEFAULT = "https://slack.com/api/"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///plaudit.db", alias="PLAUDIT_DATABASE_URL")
    host: str = Field("127.0.0.1", alias="PLAUDIT_HOST")
    port: int = Field(3000, alias="PLAUDIT_PORT", ge=1, le=65535)
    config_path: Path = Field(Path("plaudit.yaml"), alias="PLAUDIT_CONFIG")
    log_level: str = Field("info", alias="PLAUDIT_LOG_LEVEL")

    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field(SLACK_API_DEFAULT, alias="SLACK_API_URL")
    # Messages a second the bot sends into one Slack workspace, all channels together. After
    # a 429 it pauses as told and sends a little slower, creeping back up to this ceiling.
    slack_rate: float = Field(20.0, alias="PLAUDIT_SLACK_RATE", gt=0, le=1000)

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

    @field_validator("slack_signing_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if value.get_secret_value() in {"changeme", "your-signing-secret"}:
            raise ValueError("replace the placeholder with the app's signing secret")
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

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None

    def status_lines(self) -> list[str]:
        """What is on, and what to set to turn the rest on."""
        lines = [f"Database: {_redact_url(self.database_url)}"]
        if self.slack_enabled:
            lines.append("Slack: on (HTTP mode, POST /slack/events)")
        else:
            missing = [
                name
                for name, value in (
                    ("SLACK_BOT_TOKEN", self.slack_bot_token),
                    ("SLACK_SIGNING_SECRET", self.slack_signing_secret),
                )
                if value is None
            ]
            lines.append(f"Slack: off (set {' and '.join(missing)} to turn it on)")
        lines.append(
            f"BigCommerce: store {self.bigcommerce_store_hash}"
            + (", webhooks on" if self.bigcommerce_webhook_secret else "")
            if self.bigcommerce_enabled
            else "BigCommerce: off (set BIGCOMMERCE_STORE_HASH and BIGCOMMERCE_ACCESS_TOKEN)"
        )
        lines.append(
            f"Email (drug safety): via {self.smtp_host}:{self.smtp_port}"
            if self.smtp_host
            else "Email (drug safety): off (set PLAUDIT_SMTP_HOST to send PV cases by email)"
        )
        path = self.config_path
        lines.append(
            f"Organisation settings: {path}"
            if path.exists()
            else f"Organisation settings: defaults ({path} not found; copy plaudit.example.yaml)"
        )
        return lines


def _redact_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url

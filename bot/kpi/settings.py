"""The KPI feed's setting: the secret its webhook's deliveries are signed with."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_LENGTH = 32  # a shared HMAC key short enough to guess is no key


class KpiSettings(BaseSettings):
    """The part of `bot.settings.Settings` about the KPI feed."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # The shared signing secret of POST /webhooks/kpi; unset, the webhook answers 404.
    kpi_webhook_secret: SecretStr | None = Field(None, alias="PLAUDIT_KPI_WEBHOOK_SECRET")

    @field_validator("kpi_webhook_secret")
    @classmethod
    def _kpi_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value()) < SECRET_LENGTH:
            raise ValueError(
                f"at least {SECRET_LENGTH} characters (make one with: openssl rand -hex 32)"
            )
        return value

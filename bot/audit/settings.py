"""The audit trail's settings: its key, and where its checkpoints go besides the log."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.audit import AuditKey, AuditKeyError


class AuditSettings(BaseSettings):
    """The part of `bot.settings.Settings` about the audit trail."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Keys the audit trail's seal and signs its checkpoints (`plaudit audit keygen`), or a
    # file holding it. Never in the database; required to serve chat.
    audit_key: SecretStr | None = Field(None, alias="PLAUDIT_AUDIT_KEY")
    audit_key_file: Path | None = Field(None, alias="PLAUDIT_AUDIT_KEY_FILE")
    # Where signed checkpoints are also written outside the database: a directory
    # (checkpoint.json, the newest; checkpoints.jsonl, one at most every 10 s) and a URL
    # they are POSTed to as JSON. The log always gets them.
    audit_checkpoints: Path | None = Field(None, alias="PLAUDIT_AUDIT_CHECKPOINTS")
    audit_webhook: str | None = Field(None, alias="PLAUDIT_AUDIT_WEBHOOK")

    @field_validator("audit_key")
    @classmethod
    def _audit_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            AuditKey.parse(value.get_secret_value())
        except AuditKeyError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("audit_webhook")
    @classmethod
    def _audit_webhook(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.strip()

"""Settings of the server process itself: its database, address, logs and the HTTP edge's limits."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.db import masked, normalise_url, url_problem


class ProcessSettings(BaseSettings):
    """The part of `bot.settings.Settings` that says where and how the process runs."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///plaudit.db", alias="PLAUDIT_DATABASE_URL")
    host: str = Field("127.0.0.1", alias="PLAUDIT_HOST")
    port: int = Field(3000, alias="PLAUDIT_PORT", ge=1, le=65535)
    log_level: str = Field("info", alias="PLAUDIT_LOG_LEVEL")
    log_format: Literal["text", "json"] = Field("text", alias="PLAUDIT_LOG_FORMAT")
    # OpenTelemetry traces over OTLP/HTTP (the collector's base address); off when empty.
    otel_endpoint: str | None = Field(None, alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    otel_service: str = Field("plaudit", alias="OTEL_SERVICE_NAME")

    # The HTTP edge. Connections beyond the limit are closed at once (the file descriptors a
    # burst of slow clients can hold stay bounded); a client gets `header_timeout` seconds to
    # send its request line and headers and `body_timeout` more for its body; an idle
    # keep-alive connection is closed after `keep_alive` seconds.
    max_connections: int = Field(100, alias="PLAUDIT_MAX_CONNECTIONS", ge=1, le=100_000)
    header_timeout: float = Field(10.0, alias="PLAUDIT_HEADER_TIMEOUT", gt=0, le=600)
    body_timeout: float = Field(15.0, alias="PLAUDIT_BODY_TIMEOUT", gt=0, le=600)
    keep_alive: float = Field(5.0, alias="PLAUDIT_KEEP_ALIVE", gt=0, le=600)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        url = normalise_url(value)
        problem = url_problem(url)
        if problem:
            # A custom error: its message printed as it is (no "Value error," before it).
            raise PydanticCustomError(
                "database_url", "{url}: {problem}", {"url": masked(url), "problem": problem}
            )
        return url

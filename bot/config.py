"""Organisation settings from `plaudit.yaml`, validated with errors that name file and key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from compliance_rules import CATEGORIES, RuleSet, load_rules, pack_path
from handlers.policy import KudosPolicy

_VALUE = re.compile(r"^#[a-z0-9][a-z0-9_-]{0,48}$")
_EMOJI = re.compile(r"^[a-z0-9_+\-']{1,64}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,30}$")


def _channel_id(value: str | None) -> str | None:
    if value is not None and not _CHANNEL.match(value):
        raise ValueError("use the channel id (e.g. C0123ABCD), not its name")
    return value


class ConfigError(Exception):
    """`plaudit.yaml` is unreadable or invalid; the message names file, key and problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecognitionConfig(_Strict):
    channel: str | None = None
    values: list[str] = Field(default_factory=lambda: list(KudosPolicy().values))
    require_value: bool = False
    daily_allowance: int = Field(5, ge=1, le=1000)
    reaction_emoji: list[str] = Field(default_factory=lambda: list(KudosPolicy().reaction_emoji))
    max_recipients: int = Field(10, ge=1, le=100)
    min_message_length: int = Field(10, ge=0, le=1000)

    _channel = field_validator("channel")(classmethod(lambda cls, v: _channel_id(v)))

    @field_validator("values")
    @classmethod
    def _values(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _VALUE.match(value):
                raise ValueError(f"{value!r} must look like #kebab-case-value")
        if len({v.lower() for v in values}) != len(values):
            raise ValueError("values must be unique")
        return values

    @field_validator("reaction_emoji")
    @classmethod
    def _emoji(cls, names: list[str]) -> list[str]:
        cleaned = [n.strip(":") for n in names]
        for name in cleaned:
            if not _EMOJI.match(name):
                raise ValueError(f"{name!r} is not an emoji name such as clap")
        return cleaned


class ComplianceConfig(_Strict):
    safety_channel: str | None = None
    safety_webhook: str | None = None  # receives each PV case as JSON (POST)
    safety_email: str | None = None  # receives each PV case by email (PLAUDIT_SMTP_*)
    review_channel: str | None = None
    reviewers: list[str] = Field(default_factory=list)  # Slack user ids or emails
    packs: list[str] = Field(default_factory=lambda: ["default"], min_length=1)
    products: Path | None = None  # the company's product registry; default: the example
    actions: dict[str, Literal["pass", "warn", "block", "hold", "route_pv"]] = Field(
        default_factory=dict
    )

    @field_validator("actions")
    @classmethod
    def _categories(cls, actions: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(actions) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown categories {unknown}; use {', '.join(CATEGORIES)}")
        return actions

    def rules(self, base: Path) -> RuleSet:
        """Load the configured packs; relative paths are relative to plaudit.yaml."""
        packs = [p if "/" in p else str(pack_path(p)) for p in self.packs]
        paths = [Path(p) if Path(p).is_absolute() else base / p for p in packs]
        registry = None
        if self.products is not None:
            registry = self.products if self.products.is_absolute() else base / self.products
        if registry is None:
            return load_rules(*paths, actions=self.actions)
        return load_rules(*paths, registry=registry, actions=self.actions)

    _channel = field_validator("safety_channel", "review_channel")(
        classmethod(lambda cls, v: _channel_id(v))
    )

    @field_validator("safety_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError("must be an email address")
        return value

    @field_validator("safety_webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class OrgConfig(_Strict):
    recognition: RecognitionConfig = Field(default_factory=RecognitionConfig)
    compliance: ComplianceConfig = Field(default_factory=ComplianceConfig)

    def policy(self) -> KudosPolicy:
        r = self.recognition
        return KudosPolicy(
            values=tuple(r.values),
            require_value=r.require_value,
            daily_allowance=r.daily_allowance,
            reaction_emoji=tuple(r.reaction_emoji),
            max_recipients=r.max_recipients,
            min_message_length=r.min_message_length,
            recognition_channel=r.channel,
            safety_channel=self.compliance.safety_channel,
            safety_webhook=self.compliance.safety_webhook,
            safety_email=self.compliance.safety_email,
            review_channel=self.compliance.review_channel,
            reviewers=tuple(self.compliance.reviewers),
        )


def load(path: Path, *, required: bool = False) -> OrgConfig:
    """Read and validate `path`; a missing optional file means the defaults."""
    if not path.exists():
        if required:
            raise ConfigError(f"{path}: file not found")
        return OrgConfig()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: {where}invalid YAML: {problem}") from exc
    if raw is None:
        return OrgConfig()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    try:
        return OrgConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(f"{path}: {key}: {message}")
        raise ConfigError("\n".join(problems)) from exc

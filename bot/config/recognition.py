"""The `recognition:` and `compliance:` sections: values, allowances, rule packs, routing."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.config.fields import _channel_id, _Strict
from compliance_rules import CATEGORIES, RuleSet, language_packs, load_rules, pack_path
from compliance_rules.quiet import QuietPeriod
from compliance_rules.registry import DEFAULT as DEFAULT_REGISTRY
from handlers.policy import KudosPolicy

_VALUE = re.compile(r"^#[a-z0-9][a-z0-9_-]{0,48}$")
_EMOJI = re.compile(r"^[a-z0-9_+\-']{1,64}$")


class RecognitionConfig(_Strict):
    channel: str | None = None
    values: list[str] = Field(default_factory=lambda: list(KudosPolicy().values))
    require_value: bool = False
    daily_allowance: int = Field(5, ge=1, le=1000)
    reaction_emoji: list[str] = Field(default_factory=lambda: list(KudosPolicy().reaction_emoji))
    max_recipients: int = Field(10, ge=1, le=100)
    min_message_length: int = Field(10, ge=0, le=1000)
    notify_manager: bool = False  # a recipient's manager gets a private message at once
    allow_guests: bool = False  # guests and people of other organisations or tenants
    retract_minutes: int = Field(60, ge=0, le=10080)  # a giver may take a kudos back (0: never)

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


class QuietPeriodConfig(_Strict):
    """A date range (UTC, both days included) during which kudos that mention `products`, or
    financial results (`financial`; default: when no products are listed), are held."""

    name: str = Field(min_length=1, max_length=80)
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    products: list[str] = Field(default_factory=list)
    financial: bool | None = None
    reason: str | None = Field(None, max_length=300)

    @model_validator(mode="after")
    def _range(self) -> QuietPeriodConfig:
        if self.end < self.start:
            raise ValueError(f"quiet period {self.name!r} ends ({self.end}) before it starts")
        if not self.products and self.financial is False:
            raise ValueError(f"quiet period {self.name!r} holds nothing: list products")
        return self

    def period(self) -> QuietPeriod:
        return QuietPeriod(
            self.name,
            self.start,
            self.end,
            tuple(self.products),
            self.financial,
            self.reason,
        )


class ComplianceConfig(_Strict):
    safety_channel: str | None = None
    safety_webhook: str | None = None  # receives each PV case as JSON (POST)
    safety_email: str | None = None  # receives each PV case by email (PLAUDIT_SMTP_*)
    review_channel: str | None = None
    reviewers: list[str] = Field(default_factory=list)  # Slack user ids or emails
    packs: list[str] = Field(default_factory=lambda: ["default"], min_length=1)
    # The shipped packs of other languages read with them (default: every one); a text in a
    # language no pack covers is held, blocked or warned about, never published unchecked.
    languages: list[Literal["de", "fr", "es", "it", "pt", "ja", "zh", "nl", "pl"]] | None = None
    unknown_language: Literal["hold", "block", "warn"] = "hold"
    # A linear model's reading of a text the rules pass for a category: a text it scores as
    # a violation goes to a reviewer, with its reason and score (false: the rules alone).
    second_opinion: bool = True
    products: Path | None = None  # the company's product registry; default: the example
    actions: dict[str, Literal["pass", "warn", "block", "hold", "route_pv"]] = Field(
        default_factory=dict
    )
    quiet_periods: list[QuietPeriodConfig] = Field(default_factory=list)

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
        later = [p for p in language_packs(self.languages) if p not in paths]
        registry = DEFAULT_REGISTRY
        if self.products is not None:
            registry = self.products if self.products.is_absolute() else base / self.products
        return load_rules(
            *paths,
            registry=registry,
            actions=self.actions,
            unknown_language=self.unknown_language,
            deferred=later,
            second_opinion=self.second_opinion,
        )

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

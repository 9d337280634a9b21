"""The `rollout:` section: pilot cohorts by team, region, therapeutic area or people."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.config.fields import _ID, _Strict
from handlers.rollout import Cohort, Rollout

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _on_off(value: object) -> object:
    """YAML reads a bare `on` or `off` as true or false: take them as the words written."""
    return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


class CohortConfig(_Strict):
    """One cohort: who is in it (any selector matching is enough), from when, and how
    Plaudit treats them: `on`, `shadow` (measured, not announced) or `control` (surveyed,
    not given kudos)."""

    id: str
    title: str = Field(min_length=1, max_length=150)
    mode: Literal["on", "shadow", "control"]
    start: date
    teams: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    therapeutic_areas: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)  # emails

    _mode = field_validator("mode", mode="before")(classmethod(lambda cls, v: _on_off(v)))

    @field_validator("people")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for email in value:
            if not _EMAIL.fullmatch(email):
                raise ValueError(f"{email!r} is not an email address")
        return [e.lower() for e in value]

    @model_validator(mode="after")
    def _check(self) -> CohortConfig:
        if not _ID.match(self.id):
            raise ValueError(f"cohort id {self.id!r} must be lower-case letters, digits, - or _")
        if not (self.teams or self.regions or self.therapeutic_areas or self.people):
            raise ValueError(
                f"cohort {self.id} needs at least one of teams, regions, therapeutic_areas "
                "or people"
            )
        return self

    def cohort(self) -> Cohort:
        return Cohort(
            self.id,
            self.title,
            self.mode,
            self.start,
            tuple(self.teams),
            tuple(self.regions),
            tuple(self.therapeutic_areas),
            tuple(self.people),
        )


class RolloutConfig(_Strict):
    """Who Plaudit is on for. `outside`: people in no started cohort get a polite refusal
    (`off`) or Plaudit as usual (`on`). A member matching several cohorts by team, region
    or therapeutic area is in the first listed; a cohort naming them in `people` comes
    before any of that; nobody may be named in two cohorts' `people`."""

    outside: Literal["on", "off"] = "off"
    cohorts: list[CohortConfig] = Field(default_factory=list)

    _outside = field_validator("outside", mode="before")(classmethod(lambda cls, v: _on_off(v)))

    @model_validator(mode="after")
    def _check(self) -> RolloutConfig:
        ids = [c.id for c in self.cohorts]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"cohort ids must be unique: {', '.join(dupes)}")
        seen: dict[str, str] = {}
        for cohort in self.cohorts:
            for email in cohort.people:
                if email in seen:
                    raise ValueError(
                        f"{email} is in the people of both cohorts {seen[email]} and {cohort.id}"
                    )
                seen[email] = cohort.id
        if self.outside == "off" and not self.cohorts:
            raise ValueError("with outside: off, list at least one cohort (or Plaudit is off)")
        return self

    def rollout(self) -> Rollout:
        return Rollout(tuple(c.cohort() for c in self.cohorts), self.outside)

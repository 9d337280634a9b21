"""Organisation settings from `plaudit.yaml`, validated with errors that name file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.config.org import TEAMS_REACTIONS, DashboardRoles, OrgConfig, RetentionConfig, TeamsConfig
from bot.config.recognition import ComplianceConfig, RecognitionConfig
from bot.config.sprints import (
    BigCommerceSettings,
    MilestoneConfig,
    SprintRangeConfig,
    SprintsConfig,
)
from bot.config.surveys import (
    AudienceConfig,
    DigestsConfig,
    QuestionConfig,
    RemindersConfig,
    ScheduleConfig,
    SurveyConfig,
)

__all__ = [
    "TEAMS_REACTIONS",
    "AudienceConfig",
    "BigCommerceSettings",
    "ComplianceConfig",
    "ConfigError",
    "DashboardRoles",
    "DigestsConfig",
    "MilestoneConfig",
    "OrgConfig",
    "QuestionConfig",
    "RecognitionConfig",
    "RemindersConfig",
    "RetentionConfig",
    "ScheduleConfig",
    "SprintRangeConfig",
    "SprintsConfig",
    "SurveyConfig",
    "TeamsConfig",
    "load",
]


class ConfigError(Exception):
    """`plaudit.yaml` is unreadable or invalid; the message names file, key and problem."""


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

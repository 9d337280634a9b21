"""What every section of `plaudit.yaml` shares: strict models, channel ids, durations, ids."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict

_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,30}$")


def _channel_id(value: str | None) -> str | None:
    if value is not None and not _CHANNEL.match(value):
        raise ValueError("use the channel id (e.g. C0123ABCD), not its name")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_LOCAL = re.compile(
    r"^(?:(mon|tue|wed|thu|fri|sat|sun)[a-z]*\s+)?([01]?\d|2[0-3]):([0-5]\d)$", re.I
)


def _duration(value: str) -> timedelta:
    match = _DURATION.match(str(value).strip().lower())
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 90m, 48h, 3d or 1w")
    amount = int(match.group(1))
    if amount <= 0:
        raise ValueError("must be longer than zero")
    return timedelta(**{_UNITS[match.group(2)]: amount})


def _checked_duration(value: str) -> str:
    _duration(value)
    return value

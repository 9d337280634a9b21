"""Survey definitions: questions, audience, schedule, and the JSON a round keeps of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import time, timedelta
from typing import Any, Literal

QuestionType = Literal["scale", "enps", "choice", "text"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_TEXT = 2000


@dataclass(frozen=True)
class Question:
    id: str
    type: QuestionType
    text: str
    labels: tuple[str, ...] = ()  # scale: two (low, high) or five labels
    options: tuple[str, ...] = ()  # choice
    multi: bool = False  # choice: several options may be picked
    optional: bool = False

    def scores(self) -> range:
        return range(0, 11) if self.type == "enps" else range(1, 6)


@dataclass(frozen=True)
class Audience:
    """Everyone active, narrowed by any of these roster fields or a channel's members."""

    teams: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    therapeutic_areas: tuple[str, ...] = ()
    slack_channel: str | None = None


@dataclass(frozen=True)
class Schedule:
    """Either a cron expression in an explicit zone, or a local time per recipient."""

    cron: str | None = None
    timezone: str | None = None
    local_day: int | None = None  # 0 = Monday; None with local_time = every day
    local_time: time | None = None

    @property
    def is_local(self) -> bool:
        return self.local_time is not None


@dataclass(frozen=True)
class Survey:
    id: str
    title: str
    questions: tuple[Question, ...]
    schedule: Schedule = field(default_factory=Schedule)
    intro: str = ""
    audience: Audience = field(default_factory=Audience)
    open_for: timedelta = timedelta(days=3)
    remind_after: timedelta | None = None
    max_reminders: int = 0
    anonymous: bool = True
    min_responses: int = 5
    owners: tuple[str, ...] = ()  # Slack user ids or emails
    results_channel: str | None = None

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["open_for"] = self.open_for.total_seconds()
        data["remind_after"] = self.remind_after.total_seconds() if self.remind_after else None
        lt = self.schedule.local_time
        data["schedule"]["local_time"] = lt.isoformat() if lt else None
        return data


def survey_from_json(data: dict[str, Any]) -> Survey:
    """The definition a round was opened with (kept in the round, so edits do not move it)."""
    schedule = dict(data["schedule"])
    if schedule.get("local_time"):
        schedule["local_time"] = time.fromisoformat(schedule["local_time"])
    audience = data["audience"]
    return Survey(
        id=data["id"],
        title=data["title"],
        intro=data.get("intro", ""),
        questions=tuple(
            Question(
                id=q["id"],
                type=q["type"],
                text=q["text"],
                labels=tuple(q.get("labels", ())),
                options=tuple(q.get("options", ())),
                multi=bool(q.get("multi")),
                optional=bool(q.get("optional")),
            )
            for q in data["questions"]
        ),
        schedule=Schedule(**schedule),
        audience=Audience(
            teams=tuple(audience.get("teams", ())),
            regions=tuple(audience.get("regions", ())),
            therapeutic_areas=tuple(audience.get("therapeutic_areas", ())),
            slack_channel=audience.get("slack_channel"),
        ),
        open_for=timedelta(seconds=data["open_for"]),
        remind_after=timedelta(seconds=data["remind_after"]) if data.get("remind_after") else None,
        max_reminders=int(data.get("max_reminders", 0)),
        anonymous=bool(data["anonymous"]),
        min_responses=int(data["min_responses"]),
        owners=tuple(data.get("owners", ())),
        results_channel=data.get("results_channel"),
    )

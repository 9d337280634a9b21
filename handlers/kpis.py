"""Business KPIs from a CTMS or CRM: events read, checked and stored once each, then the
milestones defined on them awarded.

An event is what a clinical-operations or CRM system reports ("site activated", "first
patient in", "enrolment target reached", "campaign launched"), with a team, a day and an
optional value. The sender names each event with an id of its own; a second delivery of the
same event changes nothing, and one under the same id with other content is refused whole.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlmodel import Session, col, select

from handlers.milestones import Awarded, Milestone, evaluate
from handlers.policy import KudosPolicy
from handlers.sprints import SprintCalendar
from storage import queries
from storage.models import KpiEvent

MAX_EVENTS = 200  # in one webhook delivery (64 KiB at most): more is split by the sender
FIELDS = ("id", "kind", "date", "team", "region", "therapeutic_area", "value", "title")
_KIND = re.compile(r"[a-z0-9][a-z0-9_]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_LIMITS = {"id": 200, "team": 120, "region": 120, "therapeutic_area": 120, "title": 200}
_LARGEST = Decimal("1e14")


class KpiError(ValueError):
    """An event that cannot be stored as given, and why (the message names the field)."""


class KpiConflict(Exception):
    """Events already stored under these ids with other content: nothing was stored."""

    def __init__(self, ids: Sequence[str]) -> None:
        super().__init__(f"already recorded with other content: {', '.join(ids)}")
        self.ids = tuple(ids)


@dataclass(frozen=True)
class KpiReport:
    """One event as its sender reported it, checked."""

    event_id: str
    kind: str
    occurred_on: date
    team: str | None = None
    region: str | None = None
    therapeutic_area: str | None = None
    value: Decimal | None = None
    title: str | None = None

    def digest(self) -> str:
        """What the event says, as a hash: equal for a repeat of the same delivery."""
        fields = {k: None if v is None else str(v) for k, v in asdict(self).items()}
        canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Recorded:
    """What a delivery or an import did: events stored, repeats ignored, awards made."""

    stored: int
    repeated: int
    awarded: tuple[Awarded, ...]


def kind_of(value: str) -> str:
    """A kind as stored: "First patient in" and "first-patient-in" are `first_patient_in`."""
    return re.sub(r"[\s\-]+", "_", value.strip().lower())


def _text(raw: Mapping[str, object], name: str, required: bool = False) -> str | None:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise KpiError(f"{name}: required")
        return None
    if not isinstance(value, str):
        raise KpiError(f"{name}: expected text, got {type(value).__name__}")
    value = value.strip()
    if _CONTROL.search(value):
        raise KpiError(f"{name}: control or invisible characters are not accepted")
    if len(value) > _LIMITS.get(name, 64):
        raise KpiError(f"{name}: at most {_LIMITS.get(name, 64)} characters")
    return value


def _day(raw: object, today: date) -> date:
    text = raw.strip() if isinstance(raw, str) else ""
    try:
        # A day, or a full timestamp (its day as written, not moved to another zone).
        day = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).date()
    except ValueError:
        raise KpiError(f"date: {text[:40]!r} is not a day as YYYY-MM-DD") from None
    if day > today + timedelta(days=1):
        raise KpiError(f"date: {day.isoformat()} is in the future")
    if day.year < 2000:
        raise KpiError(f"date: {day.isoformat()} is before 2000")
    return day


def _value(raw: object) -> Decimal | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise KpiError("value: expected a number")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise KpiError(f"value: {str(raw)[:40]!r} is not a number") from None
    if not value.is_finite() or abs(value) >= _LARGEST:
        raise KpiError("value: out of range")
    return value.quantize(Decimal("0.0001")).normalize()


def read_event(raw: Mapping[str, object], today: date) -> KpiReport:
    """One event from its fields (`FIELDS`): KpiError naming the first that is wrong."""
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise KpiError(f"unknown field {unknown[0]!r}; the fields are {', '.join(FIELDS)}")
    kind = kind_of(_text(raw, "kind", required=True) or "")
    if not _KIND.fullmatch(kind):
        raise KpiError(f"kind: {kind[:40]!r} must be letters, digits and _ (at most 64)")
    return KpiReport(
        event_id=_text(raw, "id", required=True) or "",
        kind=kind,
        occurred_on=_day(raw.get("date"), today),
        team=_text(raw, "team"),
        region=_text(raw, "region"),
        therapeutic_area=_text(raw, "therapeutic_area"),
        value=_value(raw.get("value")),
        title=_text(raw, "title"),
    )


def read_events(
    rows: Sequence[Mapping[str, object]],
    today: date,
    *,
    most: int | None = MAX_EVENTS,
    places: Sequence[str] | None = None,
) -> list[KpiReport]:
    """Every event of a delivery or a file, or KpiError naming the first bad one by its
    place ("event 3", or as `places` names them: "line 4"). The same id twice must say the
    same thing twice."""
    if not rows:
        raise KpiError("no events")
    if most is not None and len(rows) > most:
        raise KpiError(f"{len(rows)} events; at most {most} at a time")
    read: dict[str, KpiReport] = {}
    for n, raw in enumerate(rows):
        place = places[n] if places is not None else f"event {n + 1}"
        try:
            event = read_event(raw, today)
        except KpiError as exc:
            raise KpiError(f"{place}: {exc}") from None
        earlier = read.get(event.event_id)
        if earlier is not None and earlier != event:
            raise KpiError(f"{place}: id {event.event_id!r} twice, with other content")
        read[event.event_id] = event
    return list(read.values())


@dataclass(frozen=True)
class MilestoneContext:
    """What awarding a milestone needs besides the session: its definitions and where
    points go (the sprint calendar, the policy's channel, the workspace)."""

    milestones: tuple[Milestone, ...]
    calendar: SprintCalendar
    policy: KudosPolicy
    workspace: str | None = None


def record(
    events: Sequence[KpiReport],
    *,
    session: Session,
    now: datetime,
    source: str,
    context: MilestoneContext,
) -> Recorded:
    """Store the events not stored before and award the milestones they complete, in the
    caller's transaction. KpiConflict (nothing stored) for an id stored with other content."""
    ids = [e.event_id for e in events]
    stored = {
        row.event_id: row.digest
        for row in session.exec(select(KpiEvent).where(col(KpiEvent.event_id).in_(ids)))
    }
    conflicts = [e.event_id for e in events if stored.get(e.event_id, e.digest()) != e.digest()]
    if conflicts:
        raise KpiConflict(conflicts)
    new = [e for e in events if e.event_id not in stored]
    for event in new:
        session.add(
            KpiEvent(
                event_id=event.event_id,
                kind=event.kind,
                occurred_on=event.occurred_on,
                team=event.team,
                region=event.region,
                therapeutic_area=event.therapeutic_area,
                value=event.value,
                title=event.title,
                source=source,
                digest=event.digest(),
                received_at=now,
            )
        )
    session.flush()  # a concurrent delivery of the same id fails here; the runner retries
    if new:
        queries.append_audit(
            session=session,
            actor=f"kpi:{source}",
            action="kpi.recorded",
            subject=f"kpi:{new[0].kind}" if len({e.kind for e in new}) == 1 else "kpi:mixed",
            detail={"stored": len(new), "repeated": len(events) - len(new)},
            at=now,
        )
    awarded = evaluate(
        [m for m in context.milestones if m.source == "kpi"],
        session=session,
        now=now,
        calendar=context.calendar,
        policy=context.policy,
        workspace=context.workspace,
    )
    return Recorded(len(new), len(events) - len(new), tuple(awarded))

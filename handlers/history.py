"""Past recognitions brought over from a spreadsheet or another platform, checked like new ones."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, select

import compliance_rules
from compliance_rules import Outcome, RuleSet
from handlers import safety, sprints
from handlers.policy import KudosPolicy
from storage import people, queries
from storage.models import Member, Recognition
from storage.models.recognition import PUBLISHED

COLUMNS = ("date", "giver_email", "recipient_email", "message", "value")
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


@dataclass(frozen=True)
class Row:
    line: int
    values: Mapping[str, str]


@dataclass
class Report:
    imported: list[int] = field(default_factory=list)
    flagged: list[tuple[int, str]] = field(default_factory=list)  # imported, not published
    duplicates: list[int] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"imported {len(self.imported)} (flagged {len(self.flagged)}), "
            f"already there {len(self.duplicates)}, rejected {len(self.rejected)}"
        ]
        out += [f"line {line}: flagged: {why}" for line, why in self.flagged]
        out += [f"line {line}: rejected: {why}" for line, why in self.rejected]
        return out


def import_rows(
    rows: Sequence[Row],
    *,
    session: Session,
    rules: RuleSet | None,
    policy: KudosPolicy,
    now: datetime,
) -> Report:
    """Import each row on its own; a row already imported (same content) is skipped."""
    report = Report()
    for row in rows:
        problem, parsed = _parse(row)
        if problem is not None:
            report.rejected.append((row.line, problem))
            continue
        assert parsed is not None
        try:
            with session.begin_nested():
                outcome = _store(session, parsed, rules=rules, policy=policy, now=now)
        except Exception as exc:  # one row's failure must not abort the others
            report.rejected.append((row.line, f"could not be stored ({type(exc).__name__})"))
            continue
        if outcome is None:
            report.duplicates.append(row.line)
            continue
        report.imported.append(row.line)
        if outcome not in PUBLISHED:
            report.flagged.append((row.line, f"compliance outcome {outcome.value}"))
    if report.imported:
        queries.append_audit(
            session=session,
            actor="import",
            action="history.imported",
            subject="recognitions",
            detail={"imported": len(report.imported), "flagged": len(report.flagged)},
            at=now,
        )
    return report


@dataclass(frozen=True)
class _Parsed:
    at: datetime
    giver: str
    recipient: str
    message: str
    value: str | None
    key: str


def _parse(row: Row) -> tuple[str | None, _Parsed | None]:
    raw = {k: (row.values.get(k) or "").strip() for k in COLUMNS}
    try:
        at = _when(raw["date"])
    except ValueError:
        return f"date {raw['date']!r} is not a date like 2025-03-31 or 2025-03-31T14:05", None
    giver, recipient = raw["giver_email"].lower(), raw["recipient_email"].lower()
    for name, email in (("giver_email", giver), ("recipient_email", recipient)):
        if not _EMAIL.match(email):
            return f"{name} {email!r} is not an email address", None
    if giver == recipient:
        return "giver and recipient are the same person", None
    if not raw["message"]:
        return "message is empty", None
    value = raw["value"].lower() or None
    if value and not value.startswith("#"):
        value = "#" + value.replace(" ", "-")
    digest = hashlib.sha256(
        "\x1f".join([at.isoformat(), giver, recipient, raw["message"], value or ""]).encode()
    ).hexdigest()
    return None, _Parsed(at, giver, recipient, raw["message"], value, f"import:{digest}")


def _when(text: str) -> datetime:
    if not text:
        raise ValueError(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _store(
    session: Session, row: _Parsed, *, rules: RuleSet | None, policy: KudosPolicy, now: datetime
) -> Outcome | None:
    if session.exec(select(Recognition.id).where(Recognition.dedupe_key == row.key)).first():
        return None
    giver = _member(session, row.giver, now)
    recipient = _member(session, row.recipient, now)
    result = compliance_rules.check(row.message, rules)
    published = result.outcome in PUBLISHED
    text = row.message if published else safety.kept_text(row.message, result)
    recognition_id = queries.insert_recognition(
        session=session,
        values={
            "dedupe_key": row.key,
            "giver_id": giver,
            "text": text,
            "text_sha256": hashlib.sha256(row.message.encode()).hexdigest(),
            "value_tags": [row.value] if row.value else [],
            "source": "import",
            "platform": "import",
            "reactions": [],
            "outcome": result.outcome.value,
            "findings": [
                {"rule": f.rule, "category": f.category, "outcome": f.outcome.value}
                for f in result.findings
            ],
            "giver_local_date": row.at.date(),
            "created_at": row.at,
        },
        recipients=[recipient],
    )
    if published:
        sprints.tally(
            session,
            policy.sprints,
            at=row.at,
            giver_id=giver,
            recipient_ids=[recipient],
            tags=[row.value] if row.value else [],
        )
    if result.outcome is Outcome.ROUTE_PV:
        # A possible adverse event found in old records: the company becomes aware now.
        safety.open_case(
            session,
            source="import",
            text=row.message,
            findings=result.findings,
            reporter=people.by_id(session=session, member_id=giver),
            recognition_id=recognition_id,
            workspace=None,
            policy=policy,
            now=now,
        )
    return result.outcome


def _member(session: Session, email: str, now: datetime) -> int:
    """The member with `email`; someone who has left is added as inactive, for history."""
    found = session.exec(select(Member.id).where(Member.email == email)).first()
    if found is not None:
        return found
    member = Member(
        display_name=email.split("@", 1)[0],
        email=email,
        active=False,
        created_at=now,
        updated_at=now,
    )
    session.add(member)
    session.flush()
    assert member.id is not None
    return member.id

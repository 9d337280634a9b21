"""CSV exports of the leaderboard, the recognitions and a survey round: each one audited in
the same transaction, each cell guarded against spreadsheet formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime

from sqlmodel import Session

from handlers import leaderboard
from handlers.leaderboard import Filters
from handlers.sprints import Sprint
from handlers.surveys import Results
from storage import feed, queries
from storage.models.recognition import PUBLISHED

# What makes a spreadsheet read a cell as a formula (OWASP's CSV injection list, with the
# full-width forms some spreadsheets also accept), and the blanks they skip before it.
_FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_BLANKS = " \t\r\n\u00a0\u2007\u202f\u3000\ufeff"


def cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text that starts like a formula, even after
    spaces, tabs or line breaks, gets a leading apostrophe."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and (
        text.startswith(_FORMULA) or text.lstrip(_BLANKS).startswith(_FORMULA)
    ):
        return "'" + text
    return text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Every cell quoted: a spreadsheet set to a `;`-separated locale splits an unquoted cell
    at each `;`, and the piece after one could start a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


LEADERBOARD_HEADER = (
    "sprint",
    "board",
    "rank",
    "name",
    "email",
    "points",
    "kudos_points",
    "milestone_points",
)


def export_leaderboard(
    session: Session,
    sprint: Sprint,
    *,
    by: leaderboard.By,
    filters: Filters,
    exclude: Sequence[str],
    actor: str,
    now: datetime,
    workspace: str | None = None,
) -> str:
    """The whole board as CSV; the export is audited in the same transaction."""
    b = leaderboard.board(
        session, sprint, by=by, filters=filters, exclude=exclude, top=None, workspace=workspace
    )
    rows = [
        (b.sprint, by, r.rank, r.name, r.email, r.points, r.recognition_points, r.milestone_points)
        for r in b.rows
    ]
    queries.append_audit(
        session=session,
        actor=actor,
        action="export.leaderboard",
        subject=f"sprint:{sprint.id}",
        detail={
            "sprint": sprint.id,
            "by": by,
            "filters": _filters(filters),
            "rows": len(rows),
            **({"workspace": workspace} if workspace else {}),
        },
        at=now,
    )
    return to_csv(LEADERBOARD_HEADER, rows)


RECOGNITIONS_HEADER = (
    "id",
    "created_at",
    "giver",
    "giver_email",
    "recipients",
    "recipient_emails",
    "values",
    "message",
    "source",
    "platform",
)


def export_recognitions(
    session: Session,
    *,
    sprint: Sprint | None,
    actor: str,
    now: datetime,
    workspace: str | None = None,
) -> str:
    """Published recognitions (of one sprint, or all) as CSV, audited in the same transaction."""
    between = (sprint.start, sprint.end) if sprint is not None else None
    items = feed.recognitions(
        session, outcomes=PUBLISHED, limit=None, between=between, workspace=workspace
    )
    rows = [
        (
            i.id,
            i.at.isoformat(),
            i.giver.name,
            i.giver.email,
            "; ".join(p.name for p in i.recipients),
            "; ".join(p.email or "" for p in i.recipients),
            " ".join(i.values),
            i.text,
            i.source,
            i.platform,
        )
        for i in items
    ]
    queries.append_audit(
        session=session,
        actor=actor,
        action="export.recognitions",
        subject="recognitions",
        detail={
            "sprint": sprint.id if sprint else None,
            "rows": len(rows),
            **({"workspace": workspace} if workspace else {}),
        },
        at=now,
    )
    return to_csv(RECOGNITIONS_HEADER, rows)


def _filters(filters: Filters) -> dict[str, str]:
    return {k: v for k, v in asdict(filters).items() if v}


SURVEY_HEADER = ("survey", "round", "section", "item", "answer", "value")


def survey_rows(res: Results, *, scoped: bool) -> list[tuple[object, ...]]:
    """A round's aggregates as rows: only what the page shows (thresholds applied)."""
    head = (res.survey_id, res.number)
    rows: list[tuple[object, ...]] = [
        (*head, "participation", "invited", "", res.invited),
        (*head, "participation", "respondents", "", res.respondents),
    ]
    if not res.closed or res.hidden:
        return rows
    scored = [q for q in res.questions if q.type in ("scale", "enps") and not q.hidden]
    for q in res.questions:
        if q.hidden:
            rows.append((*head, "question", q.text, "hidden", f"fewer than {res.min_responses}"))
            continue
        rows.append((*head, "question", q.text, "answers", q.answers))
        rows.extend((*head, "question", q.text, name, n) for name, n in q.distribution.items())
        if q.mean is not None:
            rows.append((*head, "question", q.text, "mean", q.mean))
        if q.enps is not None:
            rows.append((*head, "question", q.text, "enps", q.enps))
        rows.extend((*head, "question", q.text, "text", t) for t in q.texts)
    for g in res.groups:
        rows.append((*head, g.by, g.name, "respondents", g.respondents))
        rows.extend((*head, g.by, g.name, q.text, g.means[q.id]) for q in scored if q.id in g.means)
    if res.suppressed_groups and not scoped:
        rows.append((*head, "groups", "hidden", "", res.suppressed_groups))
    return rows


def export_survey(
    session: Session, res: Results, *, scoped: bool, actor: str, now: datetime
) -> str:
    """A round's results as the viewer may see them (`scoped`: narrowed to their org) as CSV;
    the export is audited."""
    rows = survey_rows(res, scoped=scoped)
    queries.append_audit(
        session=session,
        actor=actor,
        action="export.survey",
        subject=f"survey:{res.survey_id}:{res.number}",
        detail={"round": res.number, "rows": len(rows), "scope": "org" if scoped else "all"},
        at=now,
    )
    return to_csv(SURVEY_HEADER, rows)

"""The audit trail page: the seal's state, then the entries a page at a time, filtered by
action and date, with their actors and details put in words (the raw entry one click away).

Entries name people as the use cases wrote them (`member:50`, `email:ana@example.com`,
`rules:offlabel.registry`, `cli`...); the page shows the member's name and email for a
member id and says plainly what the other kinds are, without changing what is stored.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import urlencode

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.dashboard import queries_audit
from bot.dashboard.auth import Viewer
from bot.dashboard.core import when
from bot.dashboard.queries_audit import AuditFilter, AuditPage, Cursor, Entry, Named

if TYPE_CHECKING:
    from bot.dashboard.core import Dashboard

MAX_PAGE = 100_000
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
_ACTION = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
# Actors that are parts of Plaudit rather than people.
SYSTEM = {
    "cli": "Command line (plaudit)",
    "roster": "Roster import",
    "schedule": "Scheduled job",
    "privacy": "Privacy request",
    "retention": "Retention clean-up",
    "import": "History import",
    "bigcommerce": "BigCommerce store sync",
    "anonymous": "Anonymous report",
}
# Actors named by an email: signed in by email (dashboard, CLI), an admin on the dashboard.
EMAILED = ("email", "dashboard")
# Actors and subjects named by a kind and an id, in words: (name, note) templates.
KINDS = {
    "rules": ("Compliance rules", "{}"),  # the rules that held a kudos for review
    "slack": ("Slack {}", ""),  # a Slack user or workspace id
    "teams": ("Teams {}", ""),
    "recognition": ("Kudos #{}", ""),
    "pv_case": ("PV case #{}", ""),
    "survey_round": ("Survey round #{}", ""),
    "survey": ("Survey {}", ""),  # survey id:round number
    "sprint": ("Sprint {}", ""),
    "milestone": ("Milestone {}", ""),
}
HIDDEN = {"text_sha256", "sha256", "packs"}  # fingerprints, rule packs: in the raw entry only
MEMBER_KEYS = {"recipients", "now_member", "merged"}  # member ids
DETAIL_ITEMS, DETAIL_CHARS = 6, 120


@dataclass(frozen=True)
class Who:
    """An actor or subject in words, and a note: a member's email, or where they acted."""

    name: str
    note: str | None = None


@dataclass(frozen=True)
class Shown:
    """One entry as the page shows it."""

    entry: Entry
    actor: Who
    subject: Who
    details: list[tuple[str, str]]
    raw: str


async def audit(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    """One page of the trail: read with its member names in one transaction."""
    wanted, cursor, form, problems = read_query(request)
    if cursor.page > queries_audit.MAX_OFFSET_PAGE and not (cursor.before or cursor.after):
        return d.problem(
            request,
            404,
            "No such page",
            f"Pages past {queries_audit.MAX_OFFSET_PAGE} are reached with the Older link "
            "or by narrowing the dates.",
            viewer=viewer,
        )
    now = d.runtime.clock.now()

    def load(s: Session) -> tuple[AuditPage, Named]:
        found = queries_audit.audit_page(
            s, key=d.runtime.audit_key, now=now, wanted=wanted, cursor=cursor
        )
        ids, emails = named_in(found.entries)
        return found, queries_audit.named(s, ids, emails)

    trail, names = await d.runtime.run(load)
    return d.render(
        request,
        "audit.html",
        viewer=viewer,
        page="audit",
        title="Audit trail" if trail.page == 1 else f"Audit trail, page {trail.page}",
        trail=trail,
        shown=[show(e, names) for e in trail.entries],
        wanted=wanted,
        problems=problems,
        form=form,
        newer=_link(form, trail, newer=True) if trail.newer else None,
        older=_link(form, trail, newer=False) if trail.older else None,
    )


def read_query(request: Request) -> tuple[AuditFilter, Cursor, dict[str, str], list[str]]:
    """The filters and the page asked for, the filter form's values, and what could not be
    read (named on the page, and ignored)."""
    q = request.query_params
    problems: list[str] = []
    action = q.get("action", "").strip()
    if action and not (len(action) <= 64 and _ACTION.match(action)):
        problems.append("That is not an action name: showing every action.")
        action = ""
    start, end = _day(q.get("from", ""), problems), _day(q.get("to", ""), problems)
    if start and end and start > end:
        problems.append("The date range ends before it starts: showing every date.")
        start = end = None
    wanted = AuditFilter(
        action or None,
        datetime.combine(start, time(), UTC) if start else None,
        datetime.combine(end + timedelta(days=1), time(), UTC) if end else None,
    )
    form = {
        "action": action,
        "from": start.isoformat() if start else "",
        "to": end.isoformat() if end else "",
    }
    page = _number(q.get("page"), MAX_PAGE) or 1
    cursor = Cursor(page, _number(q.get("before")), _number(q.get("after")))
    return wanted, cursor, form, problems


def _number(value: str | None, most: int = 2**62) -> int | None:
    return int(value) if value and value.isdigit() and 0 < int(value) <= most else None


def _day(value: str, problems: list[str]) -> date | None:
    """A day typed as YYYY-MM-DD (what a date field sends), else None."""
    value = value.strip()
    if not value:
        return None
    if _DAY.match(value):
        with contextlib.suppress(ValueError):
            found = date.fromisoformat(value)
            if date.min < found < date.max:
                return found
    problems.append(f"{value[:20]!r} is not a date (YYYY-MM-DD): that end is left open.")
    return None


def _link(form: dict[str, str], trail: AuditPage, *, newer: bool) -> str:
    """The query string of the Newer or Older page, keeping the filters."""
    keep = {k: v for k in ("action", "from", "to") if (v := form.get(k))}
    query: dict[str, str | int] = dict(keep)
    if newer and trail.page > 2 and trail.entries:
        query |= {"page": trail.page - 1, "after": trail.entries[0].id}
    elif not newer:
        query |= {"page": trail.page + 1, "before": trail.entries[-1].id}
    return "?" + urlencode(query) if query else ""


# -- in words -------------------------------------------------------------------------------


def named_in(entries: tuple[Entry, ...]) -> tuple[set[int], set[str]]:
    """The member ids and emails the entries name: as actor or subject, or member ids in
    the detail."""
    ids: set[int] = set()
    emails: set[str] = set()
    for e in entries:
        for said in (e.actor, e.subject):
            kind, _, rest = said.partition(":")
            if kind == "member" and rest.isdigit() and _id(int(rest)):
                ids.add(int(rest))
            elif kind in EMAILED and "@" in rest:
                emails.add(rest.lower())
        for key in MEMBER_KEYS & e.detail.keys():
            value = e.detail[key]
            ids.update(v for v in (value if isinstance(value, list) else [value]) if _id(v))
    return ids, emails


def _id(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**62


def show(entry: Entry, names: Named) -> Shown:
    raw = {"actor": entry.actor, "subject": entry.subject, "detail": entry.detail}
    return Shown(
        entry,
        who(entry.actor, names),
        who(entry.subject, names) if entry.subject else Who(""),
        details(entry.detail, names),
        json.dumps(raw, indent=2, sort_keys=True, default=str, ensure_ascii=False),
    )


def who(said: str, names: Named) -> Who:
    """`member:N` as the member's name and email, an email as the member's name; the other
    kinds of actor in words."""
    kind, _, rest = said.partition(":")
    if kind == "member" and rest.isdigit():
        member = names.by_id.get(int(rest))
        if member is None:
            return Who(f"Member #{rest}", "no longer on the roster")
        return Who(member[0], member[1])
    if said in SYSTEM:
        return Who(SYSTEM[said])
    if kind in EMAILED and rest:
        name = names.by_email.get(rest.lower())
        where = "on the dashboard" if kind == "dashboard" else None
        if name is None:
            return Who(rest, where)
        return Who(name, f"{rest}, {where}" if where else rest)
    if kind in KINDS and rest:
        title, note = KINDS[kind]
        return Who(title.format(rest), note.format(rest) or None)
    return Who(said)


def details(detail: dict[str, Any], names: Named) -> list[tuple[str, str]]:
    """The keys that matter, in words: empty values and fingerprints left out, member ids
    as names, at most `DETAIL_ITEMS` of them, each cut to `DETAIL_CHARS` characters."""
    shown: list[tuple[str, str]] = []
    for key, value in detail.items():
        if key in HIDDEN or value in (None, "", [], {}):
            continue
        text = _names(value, names) if key in MEMBER_KEYS else _words(value)
        if len(text) > DETAIL_CHARS:
            text = text[: DETAIL_CHARS - 1] + "…"
        shown.append((key.replace("_", " ").capitalize(), text))
    return shown[:DETAIL_ITEMS]


def _names(value: object, names: Named) -> str:
    ids = value if isinstance(value, list) else [value]
    return ", ".join(names.by_id[v][0] if _id(v) and v in names.by_id else _words(v) for v in ids)


def _words(value: object) -> str:
    """A value of the detail in words: yes or no, lists and mappings spelled out, a moment
    (ISO 8601, as the use cases write them) as the page shows times."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and _MOMENT.match(value):
        with contextlib.suppress(ValueError):
            return when(datetime.fromisoformat(value))
    if isinstance(value, list):
        return ", ".join(_words(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_words(v)}" for k, v in value.items() if v)
    return str(value)

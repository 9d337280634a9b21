"""`plaudit demo`: a fictional organisation in a separate database, a one-time sign-in link,
and a sandbox page that runs a `/kudos` text through the real use case and shows the posts
the bot would send to Slack and Teams."""

from __future__ import annotations

import hmac
import html
import random
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot import slack_render, teams_render
from bot.runtime import Runtime
from handlers import kudos, roster, surveys
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage.models import Member, Outbox, Recognition

DOMAIN = "larkspur.example"
ADMIN = f"helen.marsh@{DOMAIN}"
SEED = 20261201
KUDOS = 400
TEAMS = ("Brand", "Digital", "Medical Affairs", "Market Access", "Field")
REGIONS = {"NA": "America/New_York", "EMEA": "Europe/London", "APAC": "Asia/Singapore"}
AREAS = ("Oncology", "Cardiology", "Neurology")
# Helen runs the organisation; the first five after her lead a team each.
NAMES = (
    "Helen Marsh", "Ana Lopez", "Tom Becker", "Grace Okafor", "Ravi Iyer", "Lena Vogel",
    "Marcus Reid", "Sofia Rossi", "Kenji Sato", "Amara Nwosu", "Lucas Martin", "Chloe Dubois",
    "Omar Haddad", "Mei Chen", "Jonas Lind", "Priya Raman", "Diego Alvarez", "Hannah Weiss",
    "Samuel Osei", "Yuki Tanaka", "Isabel Costa", "Noah Fischer", "Leila Karimi", "Ethan Brooks",
    "Nadia Petrova", "Arjun Mehta", "Clara Jansen", "Felix Wagner", "Aisha Bello", "Oliver Grant",
    "Maya Cohen", "Luca Bianchi", "Zara Ahmed", "Daniel Kim", "Elena Popescu", "Kwame Mensah",
    "Sara Lindqvist", "Hugo Moreau", "Ines Ferreira", "Ryan Walsh", "Mina Park", "Pablo Ruiz",
    "Freya Nilsen", "Tariq Aziz", "Julia Novak", "Ben Carter", "Aiko Mori", "Victor Leclerc",
    "Rosa Delgado", "Adam Nowak", "Lily Evans", "Mateo Silva", "Eva Horvat", "Sanjay Patel",
    "Nora Berg", "Kofi Boateng", "Alice Laurent", "Wei Zhang", "Erin Doyle", "Jakob Huber",
)  # fmt: skip
REVIEWERS = ("Grace Okafor", "Omar Haddad")  # Medical Affairs
SAFETY = "Mei Chen"
PUBLISHED = (
    ("thanks for the site activation email that got three sites live", "#site-activation"),
    ("for turning around the congress booth copy overnight", "#digital-content"),
    ("thanks for untangling the advisory board logistics", "#collaboration"),
    ("for the patient enrollment tracker the whole team now uses", "#patient-enrollment"),
    ("thanks for walking the new reps through the approved materials", "#compliance-excellence"),
    ("for the quarterly newsletter layout", "#digital-content"),
    ("thanks for covering the territory review while I was out", "#collaboration"),
    ("for the clean handover of the payer dossier", "#collaboration"),
    ("thanks for fixing the portal login page before the launch webinar", "#digital-content"),
    ("for chasing the last site contracts over the finish line", "#site-activation"),
    ("thanks for the careful medical review of the training deck", "#compliance-excellence"),
    ("for the enrollment dashboard that saves us an hour a week", "#patient-enrollment"),
    ("thanks for organising the regional kickoff", "#collaboration"),
    ("for the speaker briefing pack", "#digital-content"),
)
# What the compliance gate keeps from being posted: held for review, blocked, passed to safety.
STOPPED = (
    "great idea to show Cardivex in pregnancy at the booth",
    "the Oncozol email calls it the best treatment",
    "thanks for the call where the caller's husband was hospitalized while taking Somnira",
    "great idea to show Cardivex in pregnancy at the regional meeting",
    "love that the Oncozol leaflet says it is the best treatment",
    "thanks for the slides showing Cardivex in pregnancy for the field team",
)


def email_of(name: str) -> str:
    return f"{name.lower().replace(' ', '.')}@{DOMAIN}"


def policy(base: KudosPolicy) -> KudosPolicy:
    """The organisation's policy with channels to address, so the public posts are queued
    (they stay in the outbox: the demo has no senders)."""
    return replace(
        base,
        recognition_channel=base.recognition_channel or "C0DEMOKUDOS",
        teams_recognition_channel=base.teams_recognition_channel or "19:demo-kudos@thread.tacv2",
        review_channel=base.review_channel or "C0DEMOREVIEW",
    )


def _roster() -> list[roster.Row]:
    leads = NAMES[1 : 1 + len(TEAMS)]
    rows = []
    for i, name in enumerate(NAMES):
        region = ("NA", "EMEA", "APAC")[i % 3] if i else "EMEA"
        if i == 0:
            team, manager, roles = "Brand", "", "admin"
        elif name in leads:
            team, manager, roles = TEAMS[leads.index(name)], NAMES[0], ""
        else:
            team = TEAMS[i % len(TEAMS)]
            manager, roles = leads[TEAMS.index(team)], ""
        if name in REVIEWERS:
            team, roles = "Medical Affairs", "reviewer"
        if name == SAFETY:
            team, roles = "Medical Affairs", "safety"
        values = {
            "email": email_of(name),
            "display_name": name,
            "slack_id": f"U0LARK{i:03d}",
            "teams_id": f"00000000-0000-4000-8000-{i:012d}",
            "manager_email": email_of(manager) if manager and manager != name else "",
            "team": team,
            "region": region,
            "therapeutic_area": AREAS[i % len(AREAS)],
            "timezone": REGIONS[region],
            "roles": roles,
        }
        rows.append(roster.Row(i + 2, values))
    return rows


def person(member: Member) -> Person:
    assert member.email is not None
    return Person(
        platform="email",
        workspace=None,
        user_id=member.email,
        display_name=member.display_name,
        timezone=member.timezone,
        email=member.email,
    )


def seed(runtime: Runtime, *, now: datetime) -> dict[str, Any]:
    """Larkspur Pharma in an empty database: the roster, then a sprint's kudos through the
    real use case. A database with members already is left alone."""
    existing = runtime.run_sync(
        lambda s: int(s.exec(select(func.count()).select_from(Member)).one())
    )
    if existing:
        return {"seeded": False, "members": existing}
    clock = FixedClock(now)
    report = runtime.run_sync(lambda s: roster.import_rows(_roster(), session=s, now=now))
    if report.rejected:
        raise RuntimeError(f"demo roster rejected: {report.rejected}")
    people = runtime.run_sync(
        lambda s: [person(m) for m in s.exec(select(Member).order_by(col(Member.id)))]
    )
    rng = random.Random(SEED)
    sprint = runtime.policy.sprints.sprint_of(now)
    start = min(sprint.start if sprint else now - timedelta(days=90), now - timedelta(days=7))
    span = (now - timedelta(minutes=5) - start).total_seconds()
    moments = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(KUDOS))
    stopped_at = {KUDOS * (k + 1) // (len(STOPPED) + 1): text for k, text in enumerate(STOPPED)}
    events = []
    for i, at in enumerate(moments):
        giver = rng.choice(people)
        others = [p for p in people if p.user_id != giver.user_id]
        recipients = tuple(rng.sample(others, 2 if rng.random() < 0.1 else 1))
        values: tuple[str, ...] = ()
        if i in stopped_at:
            message = stopped_at[i]
        else:
            words, value = rng.choice(PUBLISHED)
            message, values = f"{words} {value}", (value,)
        event = KudosRequested(
            key=f"demo:{i}",
            giver=giver,
            recipients=recipients,
            message=message,
            values=values,
            source="cli",
        )
        events.append((at, event))
    outcomes: dict[str, int] = {}

    def work(s: Session, batch: Sequence[tuple[datetime, KudosRequested]]) -> None:
        for at, event in batch:
            clock.at = at
            result = kudos.give(
                event, session=s, policy=runtime.policy, clock=clock, rules=runtime.rules
            )
            kind = type(result).__name__.lower()
            outcomes[kind] = outcomes.get(kind, 0) + 1

    for chunk in range(0, len(events), 50):
        runtime.run_sync(partial(work, batch=events[chunk : chunk + 50]))
    recognitions = runtime.run_sync(
        lambda s: int(s.exec(select(func.count()).select_from(Recognition)).one())
    )
    answered = _survey(runtime, people, now=now, rng=rng)
    return {
        "seeded": True,
        "members": len(people),
        "recognitions": recognitions,
        "survey_answers": answered,
        **outcomes,
    }


PULSE = surveys.Survey(
    id="pulse",
    title="Monthly pulse",
    intro="Two minutes, anonymous.",
    questions=(
        surveys.Question(
            "energy", "scale", "How energised do you feel at work?", ("Drained", "Energised")
        ),
        surveys.Question(
            "enps", "enps", "How likely are you to recommend Larkspur as a place to work?"
        ),
        surveys.Question(
            "blocker",
            "choice",
            "What got in the way most this month?",
            options=("Meetings", "Approvals", "Tools", "Nothing"),
        ),
        surveys.Question("comment", "text", "Anything else?", optional=True),
    ),
    anonymous=True,
    min_responses=5,
    owners=(ADMIN,),
)
COMMENTS = (
    "More time for deep work, please.",
    "The new MLR tracker saves me hours.",
    "Approvals for the congress booth took too long.",
    "Great month for the launch team.",
)


def _survey(
    runtime: Runtime, people: Sequence[Person], *, now: datetime, rng: random.Random
) -> int:
    """One closed round of an anonymous pulse survey, answered by most of the organisation,
    through the same use cases as chat (so its results are suppressed the same way)."""
    opened_at = now - timedelta(days=10)
    result = runtime.run_sync(
        lambda s: surveys.open_round(
            PULSE, session=s, now=opened_at, period="demo", closes_at=now - timedelta(days=3)
        )
    )
    if not isinstance(result, surveys.Opened):
        return 0
    answered = 0

    def answer(s: Session, who: Person) -> int:
        saved = 0
        picks: list[tuple[str, dict[str, Any]]] = [
            ("energy", {"score": rng.choice((2, 3, 4, 4, 5))}),
            ("enps", {"score": rng.choice((5, 7, 8, 9, 9, 10))}),
            ("blocker", {"choices": (rng.choice(PULSE.questions[2].options),)}),
        ]
        if rng.random() < 0.3:
            picks.append(("comment", {"text": rng.choice(COMMENTS)}))
        for question, value in picks:
            event = surveys.SurveyAnswered(who, result.round_id, question, **value)
            outcome = surveys.answer(
                event,
                session=s,
                now=opened_at + timedelta(days=1),
                rules=runtime.rules,
                policy=runtime.policy,
            )
            saved += isinstance(outcome, surveys.Answered)
        return saved

    for who in people:
        if rng.random() < 0.8:
            answered += runtime.run_sync(partial(answer, who=who))
    runtime.run_sync(
        lambda s: surveys.close_round(result.round_id, session=s, now=now - timedelta(days=3))
    )
    return answered


# -- the sandbox ------------------------------------------------------------------------------

_VALUE = re.compile(r"(?<![\w#&/])#[a-z0-9][a-z0-9_-]*", re.IGNORECASE)
_EMAIL_MENTION = re.compile(r"@([\w.+\-']+@[\w.\-]+\w)")
_SLACK_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_TEAMS_MENTION = re.compile(r"<at>(.*?)</at>")
MAX_TEXT = 1000


def parse(text: str, members: Sequence[Member]) -> tuple[list[Person], str]:
    """The people mentioned (`@First Last` or `@email`) and the message after the leading
    mentions; an unknown `@name` becomes a person who does not exist (the use case says so)."""
    by_name = sorted(
        ((m.display_name.lower(), m) for m in members if m.email), key=lambda p: -len(p[0])
    )
    by_email = {(m.email or "").lower(): m for m in members if m.email}
    found: list[Person] = []
    spans: list[tuple[int, int]] = []
    for at in (i for i, c in enumerate(text) if c == "@"):
        if at > 0 and (text[at - 1].isalnum() or text[at - 1] in "._+-"):
            continue  # the @ inside an email address
        if spans and at < spans[-1][1]:
            continue
        rest = text[at + 1 :]
        handle = ""
        email = _EMAIL_MENTION.match(text, at)
        if email:
            member = by_email.get(email.group(1).lower())
            handle = email.group(1)
            end = email.end()
        else:
            member = None
            for name, candidate in by_name:
                tail = rest[len(name) : len(name) + 1]
                if rest.lower().startswith(name) and not (tail.isalnum() or tail == "_"):
                    member, end = candidate, at + 1 + len(name)
                    break
            else:
                word = re.match(r"[\w.'\-]+", rest)
                handle = word.group(0) if word else ""
                end = at + 1 + len(handle)
        if member is not None:
            found.append(person(member))
        elif handle:
            found.append(Person("email", None, handle, handle, exists=False))
        spans.append((at, end))
    pos = 0
    for start, end in spans:
        if text[pos:start].strip(" ,\t\n"):
            break
        pos = end
    message = text[pos:]
    return found, message.strip(" ,\n\t")


def slack_preview(data: dict[str, Any]) -> list[dict[str, str]]:
    """The text of the Slack post's blocks, as a reader sees them (mentions as @names)."""
    rendered = slack_render.message("kudos.public", data)
    names = _ids(data, "slack_id")
    out = []
    for block in rendered.get("blocks", []):
        if block.get("type") == "section":
            text = str(block.get("text", {}).get("text", ""))
        elif block.get("type") == "context":
            text = " ".join(str(e.get("text", "")) for e in block.get("elements", []))
        else:
            continue
        text = _SLACK_MENTION.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
        # Slack's own escaping, undone once: the page escapes everything again.
        out.append({"kind": str(block["type"]), "text": html.unescape(text)})
    return out


def teams_preview(data: dict[str, Any]) -> list[dict[str, str]]:
    """The TextBlocks of the Teams Adaptive Card."""
    rendered = teams_render.message("kudos.public", data)
    out = []
    for attachment in rendered.get("attachments", []):
        for item in attachment.get("content", {}).get("body", []):
            if item.get("type") != "TextBlock":
                continue
            text = _TEAMS_MENTION.sub(lambda m: "@" + m.group(1), str(item.get("text", "")))
            style = (
                "strong"
                if item.get("weight") == "Bolder"
                else ("subtle" if item.get("isSubtle") else "text")
            )
            out.append({"kind": style, "text": text})
    return out


def _ids(data: dict[str, Any], key: str) -> dict[str, str]:
    people = [data.get("giver") or {}, *(data.get("recipients") or [])]
    return {str(p[key]): str(p.get("name", "")) for p in people if p.get(key)}


@dataclass
class OneTimeLink:
    """The sign-in token printed at start-up: good once, in this process only."""

    token: str | None

    def use(self, given: str) -> bool:
        token, ok = self.token, False
        if token and given:
            ok = hmac.compare_digest(token.encode(), given.encode())
        if ok:
            self.token = None
        return ok


def pages(link: OneTimeLink, admin: str = ADMIN) -> Callable[[Any], list[BaseRoute]]:
    """The demo's routes on the dashboard: `/demo-login` and `/sandbox`."""

    def build(d: Any) -> list[BaseRoute]:
        from bot.dashboard.app import Dashboard
        from bot.dashboard.auth import Viewer, base_path

        assert isinstance(d, Dashboard)
        d.extra_nav.append(("/sandbox", "Sandbox"))
        runtime = d.runtime

        async def demo_login(request: Request) -> Response:
            if not link.use(request.query_params.get("token", "")):
                return d.problem(
                    request,
                    403,
                    "Link used",
                    "This sign-in link has been used or is not valid. Restart plaudit demo "
                    "for a new one.",
                )
            response = RedirectResponse(f"{base_path(request)}/", status_code=303)
            d.sessions.write(response, request, sid=d.sessions.new_sid(), email=admin)
            return response

        def roster_of(s: Session) -> list[Member]:
            stmt = select(Member).where(col(Member.active).is_(True), col(Member.email).isnot(None))
            return list(s.exec(stmt.order_by(col(Member.display_name))))

        async def sandbox(request: Request, viewer: Viewer) -> Response:
            members = await runtime.run(roster_of)
            context: dict[str, Any] = {
                "chosen": viewer.email,
                "text": "@Ana Lopez thanks for the site activation email #site-activation",
                "result": None,
            }
            status = 200
            if request.method == "POST":
                fields = await d.form(request, viewer)
                if isinstance(fields, Response):
                    return fields
                context["chosen"] = (fields.get("giver") or "").strip().lower()
                context["text"] = (fields.get("text") or "")[:MAX_TEXT]
                giver = next((m for m in members if m.email == context["chosen"]), None)
                if giver is None:
                    context["result"] = {"kind": "refused", "answer": "Pick a member to give."}
                    status = 400
                else:
                    context["result"] = await _give(giver, context["text"], members)
            return d.render(
                request,
                "sandbox.html",
                viewer=viewer,
                status=status,
                title="Sandbox",
                members=[(m.email, f"{m.display_name} ({m.team or 'no team'})") for m in members],
                **context,
            )

        async def _give(giver: Member, text: str, members: list[Member]) -> dict[str, Any]:
            recipients, message = parse(text, members)
            values = tuple(dict.fromkeys(v.lower() for v in _VALUE.findall(message)))
            event = KudosRequested(
                key=f"demo:sandbox:{uuid.uuid4()}",
                giver=person(giver),
                recipients=tuple(recipients),
                message=message,
                values=values,
                source="cli",
            )

            def work(s: Session) -> tuple[kudos.KudosResult, dict[str, Any] | None]:
                result = kudos.give(
                    event,
                    session=s,
                    policy=runtime.policy,
                    clock=runtime.clock,
                    rules=runtime.rules,
                )
                data = None
                if isinstance(result, kudos.Recorded):
                    key = f"recognition:{result.recognition_id}:public"
                    row = s.exec(select(Outbox).where(Outbox.key == key)).first()
                    data = dict(row.data) if row is not None else None
                return result, data

            result, data = await runtime.run(work)
            if isinstance(result, kudos.Recorded):
                answer = (
                    f"Recorded kudos #{result.recognition_id} for {', '.join(result.recipients)}; "
                    f"{result.allowance_left} left today."
                )
                return {
                    "kind": "recorded",
                    "answer": answer,
                    "warnings": [f.message for f in result.warnings],
                    "slack": slack_preview(data) if data else [],
                    "teams": teams_preview(data) if data else [],
                }
            if isinstance(result, kudos.Stopped):
                return {
                    "kind": "stopped",
                    "outcome": result.outcome.value,
                    "answer": result.message,
                    "findings": [(f.rule, f.message, f.suggestion) for f in result.findings],
                }
            if isinstance(result, kudos.Refused):
                return {"kind": "refused", "answer": result.message}
            return {"kind": "duplicate", "answer": "Already recorded."}

        return [
            Route("/demo-login", demo_login, methods=["GET"]),
            Route("/sandbox", d.guarded("feed")(sandbox), methods=["GET", "POST"]),
        ]

    return build


def app(runtime: Runtime, *, secret: str, link: OneTimeLink) -> Starlette:
    """The dashboard with the demo's pages at /dashboard; `/` leads there. Nothing is sent:
    there is no outbox dispatcher."""
    from bot.dashboard import DashboardConfig, dashboard_app

    config = DashboardConfig(
        secret_key=secret,
        secure_cookies=False,  # plain HTTP on 127.0.0.1
        admins=(*runtime.admins, ADMIN),
        reviewers=tuple(r for r in runtime.policy.reviewers if "@" in r),
        safety=runtime.safety,
    )

    async def home(_: Request) -> Response:
        return RedirectResponse("/dashboard/", status_code=303)

    return Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            Mount("/dashboard", app=dashboard_app(runtime, config, extra=pages(link))),
        ]
    )

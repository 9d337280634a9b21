"""What the dashboard's survey pages read from the database, read-only (synchronous: run
through `Runtime.run`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlmodel import Session

from handlers import surveys
from storage.feed import org
from storage.models import Member, SurveyRound

_member = Member.__table__  # type: ignore[attr-defined]
_round = SurveyRound.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SurveyListing:
    """A survey that has rounds, with its latest round's participation."""

    id: str
    title: str
    rounds: int
    latest: int  # the latest round's number
    latest_closed: bool
    invited: int
    respondents: int
    participation: float


@dataclass(frozen=True)
class SurveyRoundPage:
    """One round's results (from `handlers.surveys.results`, thresholds applied), the
    survey's rounds to choose from, and the question texts by id for the trend."""

    results: surveys.Results
    rounds: tuple[tuple[int, bool], ...]  # (number, closed), newest first
    labels: dict[str, str]
    owners: tuple[str, ...] = ()  # Slack user ids or emails


def survey_listing(session: Session) -> list[SurveyListing]:
    """Every survey with at least one round, by title."""
    counts = session.connection().execute(
        select(_round.c.survey_id, func.count(_round.c.id)).group_by(_round.c.survey_id)
    )
    found: list[SurveyListing] = []
    for survey_id, rounds in counts:
        latest = surveys.latest_round(session, str(survey_id))
        if latest is None or latest.id is None:
            continue
        res = surveys.results(session, latest.id, with_trend=False)
        found.append(
            SurveyListing(
                id=str(survey_id),
                title=res.title,
                rounds=int(rounds),
                latest=res.number,
                latest_closed=res.closed,
                invited=res.invited,
                respondents=res.respondents,
                participation=res.participation,
            )
        )
    return sorted(found, key=lambda s: (s.title.lower(), s.id))


def survey_round(session: Session, survey_id: str, number: int | None) -> SurveyRoundPage | None:
    """Round `number` of the survey, else its latest closed round, else its latest round."""
    rows = session.connection().execute(
        select(_round.c.id, _round.c.number, _round.c.status)
        .where(_round.c.survey_id == survey_id)
        .order_by(_round.c.number.desc())
    )
    rounds = [(int(r.id), int(r.number), r.status == "closed") for r in rows]
    if number is not None:
        chosen = next((r for r in rounds if r[1] == number), None)
    else:
        chosen = next((r for r in rounds if r[2]), rounds[0] if rounds else None)
    if chosen is None:
        return None
    round_ = session.get(SurveyRound, chosen[0])
    assert round_ is not None
    definition = surveys.survey_from_json(round_.definition)
    return SurveyRoundPage(
        results=surveys.results(session, chosen[0]),
        rounds=tuple((n, closed) for _, n, closed in rounds),
        labels={q.id: q.text for q in definition.questions},
        owners=tuple(o.lower() for o in definition.owners),
    )


def org_teams(session: Session, manager_id: int) -> set[str]:
    """The teams of the people in a manager's org (their own team included)."""
    tree = org(manager_id)
    rows = session.connection().execute(
        select(_member.c.team).where(
            or_(_member.c.id.in_(select(tree.c.id)), _member.c.id == manager_id),
            _member.c.team.is_not(None),
        )
    )
    return {str(t) for t in rows.scalars()}

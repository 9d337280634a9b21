"""Survey results: figures per question and group, held back so that none gives away fewer
than the threshold's answers, alone or combined with the others (see `suppression`); trend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from handlers.i18n import N_, _, joined, n_
from handlers.surveys.definitions import Question, Survey, survey_from_json
from handlers.surveys.suppression import Group, Memberships, shown_groups, sizes
from storage.models import SurveyAnswer, SurveyInvite, SurveyRound


@dataclass(frozen=True)
class QuestionResult:
    id: str
    text: str
    type: str
    answers: int
    distribution: dict[str, int]  # option or score -> count, in display order
    mean: float | None = None
    enps: int | None = None  # % promoters (9-10) minus % detractors (0-6)
    texts: tuple[str, ...] = ()
    hidden: bool = False  # anonymous, and too few answered this question to show it


@dataclass(frozen=True)
class GroupResult:
    by: str  # team | region
    name: str
    respondents: int
    means: dict[str, float]  # question id -> mean (enps: the score)


@dataclass(frozen=True)
class TrendPoint:
    number: int
    opened_at: str
    participation: float
    scores: dict[str, float]


@dataclass(frozen=True)
class Results:
    round_id: int
    survey_id: str
    title: str
    number: int
    opened_at: str
    closes_at: str
    closed: bool
    anonymous: bool
    min_responses: int
    invited: int
    respondents: int
    hidden: bool  # too few answers to show anything of an anonymous round
    questions: tuple[QuestionResult, ...] = ()
    groups: tuple[GroupResult, ...] = ()
    suppressed_groups: int = 0
    trend: tuple[TrendPoint, ...] = ()

    @property
    def participation(self) -> float:
        return self.respondents / self.invited if self.invited else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "participation": round(self.participation, 4)}


def enps(scores: Sequence[int]) -> int | None:
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return round(100 * (promoters - detractors) / len(scores))


def _question_result(
    question: Question, rows: list[SurveyAnswer], show_text: bool
) -> QuestionResult:
    if question.type in ("scale", "enps"):
        scores = [r.score for r in rows if r.score is not None]
        dist = {str(s): sum(1 for x in scores if x == s) for s in question.scores()}
        mean = round(sum(scores) / len(scores), 2) if scores else None
        score = enps(scores) if question.type == "enps" else None
        return QuestionResult(
            question.id, question.text, question.type, len(scores), dist, mean, score
        )
    if question.type == "choice":
        dist = {o: sum(1 for r in rows if o in r.choices) for o in question.options}
        return QuestionResult(question.id, question.text, question.type, len(rows), dist)
    # A possible adverse event went to drug safety; results never publish its words.
    texts = (
        tuple(r.text for r in rows if r.text and "adverse_event_mention" not in (r.flags or []))
        if show_text
        else ()
    )
    return QuestionResult(question.id, question.text, question.type, len(rows), {}, texts=texts)


def _score(q: QuestionResult) -> float | None:
    return float(q.enps) if q.enps is not None else q.mean


def results(session: Session, round_id: int, *, with_trend: bool = True) -> Results:
    """What a round says: every figure it may publish, and only those. Every reader (chat,
    the dashboard, the CLI, the CSV export) shows these results and computes nothing."""
    round_ = session.get(SurveyRound, round_id)
    if round_ is None:
        raise LookupError(f"no survey round {round_id}")
    survey = survey_from_json(round_.definition)
    invited = int(
        session.exec(
            select(func.count(col(SurveyInvite.id))).where(SurveyInvite.round_id == round_id)
        ).one()
    )
    rows = list(session.exec(select(SurveyAnswer).where(SurveyAnswer.round_id == round_id)))
    respondents = len({r.respondent for r in rows})
    enough = respondents >= survey.min_responses
    hidden = survey.anonymous and not enough
    base = dict(
        round_id=round_id,
        survey_id=round_.survey_id,
        title=survey.title,
        number=round_.number,
        opened_at=round_.opened_at.isoformat(),
        closes_at=round_.closes_at.isoformat(),
        closed=round_.status == "closed",
        anonymous=survey.anonymous,
        min_responses=survey.min_responses,
        invited=invited,
        respondents=respondents,
        hidden=hidden,
    )
    trend = tuple(_trend(session, round_)) if with_trend else ()
    if hidden:
        return Results(**base, trend=trend)  # type: ignore[arg-type]
    by_question: dict[str, list[SurveyAnswer]] = {}
    for row in rows:
        by_question.setdefault(row.question_id, []).append(row)
    threshold = survey.min_responses
    questions = tuple(
        _shown_question(q, by_question.get(q.id, []), survey.anonymous, threshold)
        for q in survey.questions
    )
    groups, suppressed = _breakdown(survey, rows, by_question, questions)
    return Results(
        **base,  # type: ignore[arg-type]
        questions=questions,
        groups=groups,
        suppressed_groups=suppressed,
        trend=trend,
    )


def _shown_question(
    question: Question, rows: list[SurveyAnswer], anonymous: bool, threshold: int
) -> QuestionResult:
    """A question's figures; for an anonymous survey, only when enough people answered it
    (a question most people skipped could otherwise show one person's answer)."""
    people = len({r.respondent for r in rows})
    if anonymous and people < threshold:
        return QuestionResult(question.id, question.text, question.type, people, {}, hidden=True)
    return _question_result(question, rows, show_text=True)


def _memberships(rows: list[SurveyAnswer]) -> Memberships:
    """Respondent -> the teams and regions their answers count in."""
    found: dict[str, set[Group]] = {}
    for row in rows:
        groups = found.setdefault(row.respondent, set())
        groups.update((by, name) for by in ("team", "region") if (name := getattr(row, by)))
    return {respondent: frozenset(groups) for respondent, groups in found.items()}


def _breakdown(
    survey: Survey,
    rows: list[SurveyAnswer],
    by_question: dict[str, list[SurveyAnswer]],
    questions: tuple[QuestionResult, ...],
) -> tuple[tuple[GroupResult, ...], int]:
    """The teams and regions that may be shown, and how many are held back.

    Complementary suppression, across both dimensions: a group is listed (with its number of
    respondents) only when it and every overlap and remainder of the listed groups and the
    total hold none or at least the threshold of respondents; and a listed group's figure
    for a question only when the same holds among those who answered that question."""
    threshold = survey.min_responses
    people = _memberships(rows)
    named = {group for groups in people.values() for group in groups}
    listed = shown_groups(people, named, threshold)
    means: dict[Group, dict[str, float]] = {group: {} for group in listed}
    shown_questions = {q.id for q in questions if not q.hidden}
    for q in survey.questions:
        if q.type not in ("scale", "enps") or q.id not in shown_questions:
            continue
        answered = by_question.get(q.id, [])
        for group in shown_groups(_memberships(answered), listed, threshold):
            picked = [r for r in answered if getattr(r, group[0]) == group[1]]
            score = _score(_question_result(q, picked, show_text=False))
            if score is not None:
                means[group][q.id] = score
    count, order = sizes(people), {"team": 0, "region": 1}
    groups = tuple(
        GroupResult(by, name, count[(by, name)], means[(by, name)])
        for by, name in sorted(listed, key=lambda g: (order[g[0]], g[1]))
    )
    return groups, len(named) - len(listed)


def _trend(session: Session, round_: SurveyRound, last: int = 6) -> list[TrendPoint]:
    """Earlier rounds of the same survey, oldest first, each held to the same threshold."""
    earlier = list(
        session.exec(
            select(SurveyRound)
            .where(SurveyRound.survey_id == round_.survey_id, SurveyRound.number < round_.number)
            .order_by(col(SurveyRound.number).desc())
            .limit(last)
        )
    )
    points = []
    for past in reversed(earlier):
        assert past.id is not None
        summary = results(session, past.id, with_trend=False)
        scores = {q.id: s for q in summary.questions if (s := _score(q)) is not None}
        points.append(
            TrendPoint(past.number, past.opened_at.isoformat(), summary.participation, scores)
        )
    return points


def summary_lines(res: Results) -> list[str]:
    """The results as plain lines, for chat text, the CLI and anyone who cannot see a chart,
    in the current language (the survey's own title and questions as its owners wrote them)."""
    share = f"{res.participation:.0%}"
    lines = [
        _(
            "{title}, round {number}: {respondents} of {invited} answered ({share}).",
            title=res.title,
            number=res.number,
            respondents=res.respondents,
            invited=res.invited,
            share=share,
        )
    ]
    if res.hidden:
        lines.append(
            n_(
                "Results are not shown: this survey is anonymous and fewer than {n} person "
                "answered.",
                "Results are not shown: this survey is anonymous and fewer than {n} people "
                "answered.",
                res.min_responses,
            )
        )
        return lines
    for q in res.questions:
        lines.extend(_question_lines(q, res.min_responses))
    for group in res.groups:
        scores = joined(f"{k} {v:g}" for k, v in group.means.items())
        lines.append(
            _(
                _GROUP.get(group.by, _GROUP["team"]),
                name=group.name,
                respondents=group.respondents,
                scores=scores,
            )
        )
    if res.suppressed_groups:
        # i18n: the English keeps one plural wording for every count; use your language's forms
        lines.append(
            n_(
                "{n} team or region breakdowns are not shown (fewer than {least} answers, or "
                "they would give a smaller group away).",
                "{n} team or region breakdowns are not shown (fewer than {least} answers, or "
                "they would give a smaller group away).",
                res.suppressed_groups,
                least=res.min_responses,
            )
        )
    lines.extend(_trend_line(point) for point in res.trend)
    return lines


# A breakdown's line, whole per kind of group so a translation can agree with it.
_GROUP = {
    "team": N_("Team {name} ({respondents}): {scores}"),
    "region": N_("Region {name} ({respondents}): {scores}"),
}


def _question_lines(q: QuestionResult, least: int) -> list[str]:
    """A question's line (its own text as written), and a text question's answers."""
    if q.hidden:
        return [
            _("{question} not shown: fewer than {least} answered it.", question=q.text, least=least)
        ]
    if q.type == "enps" and q.enps is not None:
        score = f"{q.enps:+d}"
        return [
            n_(
                "{question} eNPS {enps} (mean {mean}, {n} answer)",
                "{question} eNPS {enps} (mean {mean}, {n} answers)",
                q.answers,
                question=q.text,
                enps=score,
                mean=q.mean,
            )
        ]
    spread = joined(_("{option}: {count}", option=k, count=v) for k, v in q.distribution.items())
    if q.type == "scale" and q.mean is not None:
        return [
            _("{question} mean {mean} of 5 ({spread})", question=q.text, mean=q.mean, spread=spread)
        ]
    if q.type == "choice":
        return [_("{question} {spread}", question=q.text, spread=spread)]
    if q.type == "text":
        head = n_(
            "{question} {n} written answer",
            "{question} {n} written answers",
            q.answers,
            question=q.text,
        )
        return [head, *(f"  - {t[:300]}" + ("..." if len(t) > 300 else "") for t in q.texts)]
    return []


def _trend_line(point: TrendPoint) -> str:
    scores = joined(f"{k} {v:g}" for k, v in point.scores.items())
    share = f"{point.participation:.0%}"
    if not scores:
        return _(
            "Round {number} ({date}): {share} answered",
            number=point.number,
            date=point.opened_at[:10],
            share=share,
        )
    return _(
        "Round {number} ({date}): {share} answered; {scores}",
        number=point.number,
        date=point.opened_at[:10],
        share=share,
        scores=scores,
    )

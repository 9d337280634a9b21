"""A manager's digest shows a team's survey figures only when the round itself publishes
them: the digest beside the company figure must not give one answer away."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from compliance_rules import default_rules
from handlers import digests, surveys
from tests.handlers.test_digests import MONDAY, PEOPLE, POLICY, manager, seed


def answer_all(session: Session, round_id: int, scores: dict[str, int]) -> None:
    for name, score in scores.items():
        surveys.answer(
            surveys.SurveyAnswered(PEOPLE[name], round_id, "enps", score=score),
            session=session,
            now=MONDAY - timedelta(days=1),
            rules=default_rules(),
            policy=POLICY,
        )


def test_the_team_figure_is_withheld_when_the_company_figure_would_give_one_answer_away(
    session: Session,
) -> None:
    seed(session)
    pulse = surveys.Survey(
        id="pulse",
        title="Pulse",
        questions=(surveys.Question("enps", "enps", "Recommend us?"),),
        anonymous=False,
        min_responses=3,
        owners=("mia@example.com",),
    )
    opened = surveys.open_round(pulse, session=session, now=MONDAY - timedelta(days=2), period="p")
    assert isinstance(opened, surveys.Opened)
    # Brand's three and Dee of Medical: company eNPS over 4 answers, Brand's over 3, so
    # the two together would give Dee's answer.
    answer_all(session, opened.round_id, {"ann": 10, "ben": 9, "cal": 3, "dee": 0})
    surveys.close_round(opened.round_id, session=session, now=MONDAY - timedelta(hours=1))
    session.commit()

    published = surveys.results(session, opened.round_id)
    assert published.respondents == 4
    assert [g for g in published.groups if g.name == "Brand"] == []
    d = digests.build(session, manager(session), now=MONDAY, policy=POLICY)
    assert d is not None and d.survey is None

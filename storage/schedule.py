"""What the scheduler keys its work by: a (job, period) run claimed once, and whether a
survey's round for a period has opened."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from storage.models import ScheduledRun, SurveyRound


def claim_run(session: Session, *, job: str, period: str, now: datetime) -> bool:
    """Record a scheduled run; False when this (job, period) already ran."""
    if session.exec(
        select(ScheduledRun.id).where(ScheduledRun.job == job, ScheduledRun.period == period)
    ).first():
        return False
    try:
        with session.begin_nested():
            session.add(ScheduledRun(job=job, period=period, ran_at=now))
            session.flush()
    except IntegrityError:
        return False  # another replica ran it a moment ago
    return True


def round_exists(survey_id: str, period: str, session: Session) -> bool:
    """Has the survey's round for `period` been opened (by this or another replica)?"""
    stmt = select(SurveyRound.id).where(
        SurveyRound.survey_id == survey_id, SurveyRound.period == period
    )
    return session.exec(stmt).first() is not None

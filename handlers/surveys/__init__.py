"""Pulse surveys: open a round, deliver it, take answers, remind, close and report.

Platform-neutral: the adapters turn clicks into `SurveyAnswered` and render the
`survey.*` outbox templates.
"""

from handlers.surveys.answers import (
    Answered,
    AnswerRefused,
    SurveyAnswered,
    answer,
    current_answers,
    invite_for,
    question_for,
    respondent_token,
)
from handlers.surveys.definitions import (
    MAX_TEXT,
    WEEKDAYS,
    Audience,
    Question,
    QuestionType,
    Schedule,
    Survey,
    survey_from_json,
)
from handlers.surveys.results import (
    GroupResult,
    QuestionResult,
    Results,
    TrendPoint,
    enps,
    results,
    summary_lines,
)
from handlers.surveys.rounds import (
    AlreadyOpen,
    Opened,
    Skipped,
    close_due,
    close_round,
    deliver_due,
    latest_round,
    open_round,
    open_rounds,
    remind_due,
)
from handlers.surveys.schedule import local_period, local_send_time

__all__ = [
    "MAX_TEXT",
    "WEEKDAYS",
    "AlreadyOpen",
    "AnswerRefused",
    "Answered",
    "Audience",
    "GroupResult",
    "Opened",
    "Question",
    "QuestionResult",
    "QuestionType",
    "Results",
    "Schedule",
    "Skipped",
    "Survey",
    "SurveyAnswered",
    "TrendPoint",
    "answer",
    "close_due",
    "close_round",
    "current_answers",
    "deliver_due",
    "enps",
    "invite_for",
    "latest_round",
    "local_period",
    "local_send_time",
    "open_round",
    "open_rounds",
    "question_for",
    "remind_due",
    "respondent_token",
    "results",
    "summary_lines",
    "survey_from_json",
]

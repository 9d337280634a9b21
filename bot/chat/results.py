"""A survey round's results as neutral text, posted with its chart on either platform."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.chat.texts import Code, Span, Text, Words, fill, para
from handlers import surveys
from handlers.i18n import _

MAX_RESULTS_TEXT = 3500


def survey_results(data: Mapping[str, Any]) -> Text:
    """A round's results (`Results.as_json()`) as text, posted with the chart."""
    res = surveys.Results(
        **{
            k: v
            for k, v in data.items()
            if k not in ("questions", "groups", "trend", "participation")
        },
        questions=tuple(surveys.QuestionResult(**q) for q in data.get("questions", ())),
        groups=tuple(surveys.GroupResult(**g) for g in data.get("groups", ())),
        trend=tuple(surveys.TrendPoint(**t) for t in data.get("trend", ())),
    )
    lines = surveys.summary_lines(res)
    kept: list[tuple[Span, ...]] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > MAX_RESULTS_TEXT:
            # Long comment lists go to the command line; the post keeps the figures.
            more = f"plaudit survey results {res.survey_id} --round {res.number}"
            kept.append(tuple(fill(_("(more in {command})"), command=Code(more))))
            break
        kept.append((Words(line),))
    return Text((para(*kept),))

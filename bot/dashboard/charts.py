"""Geometry of the dashboard's charts, drawn as inline SVG by the templates."""

from __future__ import annotations

from typing import Any


def board_chart(rows: tuple[Any, ...]) -> dict[str, Any] | None:
    """Geometry of a horizontal bar chart (kudos, then milestone points) drawn as SVG."""
    if not rows:
        return None
    label, area, bar, gap = 220, 340, 22, 8
    most = max(r.points for r in rows) or 1
    bars = []
    for i, r in enumerate(rows):
        kudos = round(area * r.recognition_points / most)
        milestone = round(area * r.milestone_points / most)
        bars.append(
            {
                "y": 10 + i * (bar + gap),
                "label": f"{r.rank}. {r.name}",
                "kudos": kudos,
                "milestone": milestone,
                "points": r.points,
                "end": label + kudos + milestone + 6,
            }
        )
    return {
        "width": label + area + 60,
        "height": 20 + len(rows) * (bar + gap),
        "label": label,
        "bar": bar,
        "bars": bars,
        "milestones": any(r.milestone_points for r in rows),
    }


def distribution_chart(question: Any) -> dict[str, Any] | None:
    """Geometry of one question's answer counts as horizontal bars, drawn as SVG."""
    if question.hidden or not question.distribution:
        return None
    label, area, bar, gap = 160, 300, 18, 6
    most = max(question.distribution.values()) or 1
    bars = []
    for i, (name, count) in enumerate(question.distribution.items()):
        width = round(area * count / most)
        bars.append(
            {
                "y": 6 + i * (bar + gap),
                "label": name,
                "count": count,
                "width": width,
                "end": label + width + 6,
            }
        )
    return {
        "width": label + area + 50,
        "height": 12 + len(bars) * (bar + gap),
        "label": label,
        "bar": bar,
        "bars": bars,
    }

"""PNG charts of survey results (matplotlib, no display needed)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any


def _png(fig: Any) -> bytes:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def survey_png(results: Mapping[str, Any]) -> bytes | None:
    """One bar chart per scored or choice question; None when nothing may be shown."""
    questions = [
        q for q in results.get("questions", ()) if q["type"] != "text" and q["distribution"]
    ]
    if results.get("hidden") or not questions:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(
        len(questions), 1, figsize=(7, 2.2 * len(questions) + 0.6), squeeze=False
    )
    try:
        for ax, question in zip(axes[:, 0], questions, strict=True):
            labels = list(question["distribution"])
            counts = [question["distribution"][k] for k in labels]
            colours = ["#4a7bd0"] * len(labels)
            if question["type"] == "enps":
                colours = [
                    "#d0574a" if int(k) <= 6 else "#c9a227" if int(k) <= 8 else "#3f9b5a"
                    for k in labels
                ]
            ax.bar(labels, counts, color=colours)
            title = question["text"]
            if question.get("enps") is not None:
                title += f"  (eNPS {question['enps']:+d})"
            elif question.get("mean") is not None:
                title += f"  (mean {question['mean']})"
            ax.set_title(title[:90], fontsize=10, loc="left")
            ax.set_ylabel("answers", fontsize=8)
            ax.tick_params(labelsize=8)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.suptitle(
            f"{results['title']}, round {results['number']}: "
            f"{results['respondents']} of {results['invited']} answered",
            fontsize=11,
        )
        return _png(fig)
    finally:
        plt.close(fig)


def leaderboard_png(data: Mapping[str, Any]) -> bytes | None:
    """The top of a sprint board as horizontal stacked bars: kudos, then milestone points."""
    rows = list(data.get("person", {}).get("rows", ()))[: int(data.get("top", 10)) + 5]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rows = list(reversed(rows))  # the leader at the top
    names = [f"{r['rank']}. {r['name']}" for r in rows]
    kudos = [r["recognition_points"] for r in rows]
    milestones = [r["milestone_points"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.4))
    try:
        ax.barh(names, kudos, color="#4a7bd0", label="kudos received")
        ax.barh(names, milestones, left=kudos, color="#e08a2c", label="campaign milestones")
        for y, (k, m) in enumerate(zip(kudos, milestones, strict=True)):
            ax.text(k + m, y, f" {k + m}", va="center", fontsize=8)
        kind = "final board" if data.get("final") else "standings"
        ax.set_title(f"Recognition sprint {data.get('sprint')}: {kind}", fontsize=11, loc="left")
        ax.set_xlabel("points", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if any(milestones):
            ax.legend(fontsize=8, loc="lower right")
        return _png(fig)
    finally:
        plt.close(fig)

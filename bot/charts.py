"""PNG charts of survey results (matplotlib, no display needed)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any


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
            ax.yaxis.get_major_locator().set_params(integer=True)
        fig.suptitle(
            f"{results['title']}, round {results['number']}: "
            f"{results['respondents']} of {results['invited']} answered",
            fontsize=11,
        )
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        return buffer.getvalue()
    finally:
        plt.close(fig)

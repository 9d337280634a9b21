"""Chat charts drawn with Pillow alone: PNGs that decode, the same bytes for the same figures,
bars as long as their numbers, eNPS colours, text the built-in font can draw, no matplotlib."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

from PIL import Image, ImageColor

from bot.chat import charts

ROOT = Path(__file__).resolve().parents[2]


def results(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Weekly pulse",
        "number": 3,
        "respondents": 7,
        "invited": 9,
        "questions": [
            {"type": "scale", "text": "How energised do you feel?", "mean": 3.4,
             "distribution": {"1": 1, "2": 0, "3": 2, "4": 3, "5": 1}},
            {"type": "enps", "text": "Would you recommend working here?", "enps": -12,
             "distribution": {str(i): i % 3 for i in range(11)}},
            {"type": "choice", "text": "What got in the way?", "mean": None,
             "distribution": {"Meetings": 4, "Tools": 2}},
            {"type": "text", "text": "Anything else?", "distribution": {}},
        ],
    }  # fmt: skip
    return data | changes


def board(rows: list[tuple[str, int, int]], **changes: Any) -> dict[str, Any]:
    people = [
        {"rank": i + 1, "name": name, "recognition_points": kudos, "milestone_points": extra}
        for i, (name, kudos, extra) in enumerate(rows)
    ]
    return {"sprint": "2026-Q4", "final": False, "top": 10, "person": {"rows": people}} | changes


def image(png: bytes | None) -> Image.Image:
    assert png is not None and png.startswith(b"\x89PNG")
    picture = Image.open(io.BytesIO(png))
    picture.load()
    return picture.convert("RGB")


def run_of(picture: Image.Image, y: int, colour: str) -> int:
    """How many pixels of `colour` the row `y` holds."""
    rgb = ImageColor.getrgb(colour)
    return sum(1 for x in range(picture.width) if picture.getpixel((x, y)) == rgb)


def test_survey_chart_is_a_png_one_panel_per_chartable_question_and_repeatable() -> None:
    png = charts.survey_png(results())
    picture = image(png)
    assert picture.width == charts.WIDTH
    assert png == charts.survey_png(results())  # deterministic: same figures, same bytes
    one = image(charts.survey_png(results(questions=results()["questions"][:1])))
    assert picture.height > 2.5 * one.height  # three panels against one
    colours = {colour for _, colour in picture.getcolors(maxcolors=1 << 16) or ()}
    for colour in (charts.BLUE, charts.RED, charts.YELLOW, charts.GREEN):
        assert ImageColor.getrgb(colour) in colours, colour


def test_survey_chart_is_withheld_when_hidden_or_nothing_to_draw() -> None:
    assert charts.survey_png(results(hidden=True)) is None
    only_text = [q for q in results()["questions"] if q["type"] == "text"]
    assert charts.survey_png(results(questions=only_text)) is None


def test_board_bars_are_as_long_as_the_points_and_milestones_stack_after_kudos() -> None:
    picture = image(charts.leaderboard_png(board([("Ana", 30, 0), ("Ben", 10, 5)])))
    rows = [y for y in range(picture.height) if run_of(picture, y, charts.BLUE) > 20]
    assert rows, "no bars drawn"  # (the legend's swatches are narrower)
    first, last = rows[0], rows[-1]  # a line through Ana's bar, one through Ben's
    ana = run_of(picture, first, charts.BLUE) + run_of(picture, first, charts.ORANGE)
    ben_kudos = run_of(picture, last, charts.BLUE)
    ben_total = ben_kudos + run_of(picture, last, charts.ORANGE)
    assert run_of(picture, first, charts.ORANGE) == 0  # Ana has no milestone points
    assert abs(ana / ben_total - 30 / 15) < 0.05
    assert abs(ben_kudos / ben_total - 10 / 15) < 0.05


def test_board_without_rows_draws_nothing_and_zero_points_draw() -> None:
    assert charts.leaderboard_png(board([])) is None
    assert image(charts.leaderboard_png(board([("Ana", 0, 0)]))).width == charts.WIDTH


def test_text_is_folded_to_what_the_built_in_font_draws_and_shortened_to_fit() -> None:
    assert charts._plain("Zoë Müller-Łódź \u2013 Ærø") == "Zoe Muller-Lodz - AEro"
    assert charts._plain("山田") == "??"
    fitted = charts._fit("A very long option name that goes on and on and on", 11, 120)
    assert fitted.endswith("…") and charts._font(11).getlength(fitted) <= 120
    assert charts._fit("Tools", 11, 120) == "Tools"


def test_axis_ticks_are_whole_numbers_from_zero_past_the_largest() -> None:
    assert charts._ticks(3) == [0, 1, 2, 3]
    assert charts._ticks(0) == [0, 1]
    ticks = charts._ticks(33)
    assert ticks[0] == 0 and ticks[-1] >= 33 and len(ticks) <= 8
    assert len({b - a for a, b in itertools.pairwise(ticks)}) == 1


def test_charts_never_load_matplotlib() -> None:
    script = (
        "import sys\n"
        "from bot.chat import charts\n"
        "board = {'sprint': 'Q', 'person': {'rows': [{'rank': 1, 'name': 'A',"
        " 'recognition_points': 3, 'milestone_points': 1}]}}\n"
        "assert charts.leaderboard_png(board)\n"
        "print('matplotlib' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"

"""PNG charts of survey results and sprint boards, drawn with Pillow (no display needed)."""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from handlers.i18n import N_, _

WIDTH = 770
BLUE, ORANGE = "#4a7bd0", "#e08a2c"
RED, YELLOW, GREEN = "#d0574a", "#c9a227", "#3f9b5a"
INK, MUTED, GRID, FRAME = "#1f1f1f", "#555555", "#e4e4e4", "#3a3a3a"
Box = tuple[int, int, int, int]

# Pillow's built-in font (Aileron) holds ASCII and a little punctuation; other letters are
# folded to their plain Latin form (é -> e), and what has none becomes "?".
_GLYPHS = frozenset(chr(c) for c in range(32, 127)) | frozenset(
    "\u00a9\u00ab\u00b0\u00b1\u00b4\u00b7\u00bb\u2018\u2019\u201c\u201d\u2026\u2039\u203a\u2044\u2122"
)
_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe",
     "Œ": "OE", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "\u0131": "i",
     "\u2013": "-", "\u2014": "-", "\u00a0": " "}
)  # fmt: skip


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _plain(text: str) -> str:
    """`text` in the characters the font can draw."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    kept = (c for c in folded if not unicodedata.combining(c))
    return "".join(c if c in _GLYPHS else "?" for c in kept)


def _says(message: str, /, **params: object) -> str:
    """`message` (marked with `N_`) in the current language when the font can draw it, else
    in English: the font has Latin letters only, and a label of question marks says nothing."""
    said = _(message)
    shown = said if _plain(said).count("?") == said.count("?") else message
    return shown.format(**params) if params else shown


def _fit(text: str, size: int, width: float) -> str:
    """`text` (made plain), shortened with an ellipsis to at most `width` pixels."""
    text, font = _plain(text), _font(size)
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _ticks(most: float, *, intervals: int = 7) -> list[int]:
    """Whole-number ticks from 0 to at least `most`, steps of 1, 2 or 5 times a power of 10."""
    for power in range(0, 12):
        for base in (1, 2, 5):
            step = base * 10**power
            if math.ceil(max(most, 1) / step) <= intervals:
                return list(range(0, math.ceil(max(most, 1) / step) * step + 1, step))
    return [0, math.ceil(most)]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _vertical_text(image: Image.Image, text: str, centre: tuple[int, int], size: int) -> None:
    """Draw `text` turned a quarter anticlockwise, centred on `centre`."""
    font = _font(size)
    width, height = int(font.getlength(text)) + 4, size + 6
    strip = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(strip).text((width / 2, height / 2), text, font=font, fill=MUTED, anchor="mm")
    turned = strip.rotate(90, expand=True)
    image.paste(turned, (centre[0] - turned.width // 2, centre[1] - turned.height // 2))


# -- survey results: one column chart per question ----------------------------------------


def _colours(question: Mapping[str, Any], labels: Sequence[str]) -> list[str]:
    if question["type"] != "enps":
        return [BLUE] * len(labels)
    return [RED if int(k) <= 6 else YELLOW if int(k) <= 8 else GREEN for k in labels]


def _columns(draw: ImageDraw.ImageDraw, box: Box, question: Mapping[str, Any]) -> None:
    """The question's answer counts as columns in `box`, with a count over each column."""
    left, top, right, bottom = box
    labels = list(question["distribution"])
    counts = [int(question["distribution"][k]) for k in labels]
    ticks = _ticks(max(counts))
    scale = (bottom - top - 16) / ticks[-1]  # headroom for the count over the tallest
    for tick in ticks:
        y = bottom - round(tick * scale)
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((left - 6, y), str(tick), font=_font(11), fill=MUTED, anchor="rm")
    slot = (right - left) / len(labels)
    for i, (label, count, colour) in enumerate(
        zip(labels, counts, _colours(question, labels), strict=True)
    ):
        x0, x1 = round(left + slot * (i + 0.12)), round(left + slot * (i + 0.88))
        height = round(count * scale)
        if height:
            draw.rectangle([x0, bottom - height, x1, bottom], fill=colour)
        centre = (x0 + x1) / 2
        draw.text((centre, bottom - height - 3), str(count), font=_font(11), fill=INK, anchor="md")
        draw.text(
            (centre, bottom + 6), _fit(label, 11, slot - 4), font=_font(11), fill=INK, anchor="ma"
        )
    draw.rectangle([left, top, right, bottom], outline=FRAME)


def _question_title(question: Mapping[str, Any]) -> str:
    title = str(question["text"])
    if question.get("enps") is not None:
        score = f"{question['enps']:+d}"
        title = _says(N_("{question}  (eNPS {score})"), question=title, score=score)
    elif question.get("mean") is not None:
        title = _says(N_("{question}  (mean {mean})"), question=title, mean=question["mean"])
    return title[:90]


def survey_png(results: Mapping[str, Any]) -> bytes | None:
    """One column chart per scored or choice question; None when nothing may be shown."""
    questions = [
        q for q in results.get("questions", ()) if q["type"] != "text" and q["distribution"]
    ]
    if results.get("hidden") or not questions:
        return None
    header, panel = 50, 230
    image = Image.new("RGB", (WIDTH, header + panel * len(questions) + 10), "white")
    draw = ImageDraw.Draw(image)
    heading = _says(
        N_("{title}, round {number}: {respondents} of {invited} answered"),
        title=results["title"],
        number=results["number"],
        respondents=results["respondents"],
        invited=results["invited"],
    )
    draw.text((WIDTH / 2, 18), _fit(heading, 16, WIDTH - 40), font=_font(16), fill=INK, anchor="mt")
    for i, question in enumerate(questions):
        top = header + i * panel
        draw.text(
            (60, top + 4), _fit(_question_title(question), 13, WIDTH - 80),
            font=_font(13), fill=INK,
        )  # fmt: skip
        _vertical_text(image, _says(N_("answers")), (18, top + 28 + 80), 11)
        _columns(draw, (60, top + 28, WIDTH - 20, top + 28 + 160), question)
    return _png(image)


# -- a sprint board: horizontal stacked bars ------------------------------------------------


def _legend(draw: ImageDraw.ImageDraw, right: int, y: int) -> None:
    """Swatches for the two kinds of points, ending at `right`."""
    x = right
    kinds = ((BLUE, _says(N_("kudos received"))), (ORANGE, _says(N_("campaign milestones"))))
    for colour, name in reversed(kinds):
        x -= int(_font(11).getlength(name))
        draw.text((x, y), name, font=_font(11), fill=INK, anchor="lm")
        x -= 18
        draw.rectangle([x, y - 6, x + 12, y + 6], fill=colour)
        x -= 16


def _bars(draw: ImageDraw.ImageDraw, box: Box, rows: Sequence[Mapping[str, Any]]) -> None:
    """Each row's kudos then milestone points as one bar, its total at the end."""
    left, top, right, bottom = box
    totals = [int(r["recognition_points"]) + int(r["milestone_points"]) for r in rows]
    ticks = _ticks(max(totals))
    scale = (right - left - 44) / ticks[-1]  # room for the total after the longest bar
    for tick in ticks:
        x = left + round(tick * scale)
        draw.line([(x, top), (x, bottom)], fill=GRID)
        draw.text((x, bottom + 5), str(tick), font=_font(11), fill=MUTED, anchor="ma")
    pitch = (bottom - top) / len(rows)
    for i, (row, total) in enumerate(zip(rows, totals, strict=True)):
        y0, y1 = round(top + pitch * (i + 0.18)), round(top + pitch * (i + 0.82))
        kudos = round(int(row["recognition_points"]) * scale)
        end = left + round(total * scale)
        if kudos:
            draw.rectangle([left, y0, left + kudos, y1], fill=BLUE)
        if end > left + kudos:
            draw.rectangle([left + kudos, y0, end, y1], fill=ORANGE)
        middle = (y0 + y1) / 2
        draw.text((end + 5, middle), str(total), font=_font(12), fill=INK, anchor="lm")
        name = _fit(f"{row['rank']}. {row['name']}", 12, left - 16)
        draw.text((left - 8, middle), name, font=_font(12), fill=INK, anchor="rm")
    draw.rectangle([left, top, right, bottom], outline=FRAME)


def leaderboard_png(data: Mapping[str, Any]) -> bytes | None:
    """The top of a sprint board as horizontal stacked bars: kudos, then milestone points."""
    rows = list(data.get("person", {}).get("rows", ()))[: int(data.get("top", 10)) + 5]
    if not rows:
        return None
    names = [_plain(f"{r['rank']}. {r['name']}") for r in rows]
    left = min(230, max(int(_font(12).getlength(n)) for n in names) + 24)
    header, pitch = 48, 40
    height = header + pitch * len(rows) + 46
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    sprint = data.get("sprint")
    title = (
        _says(N_("Recognition sprint {sprint}: final board"), sprint=sprint)
        if data.get("final")
        else _says(N_("Recognition sprint {sprint}: standings"), sprint=sprint)
    )
    legend = any(int(r["milestone_points"]) for r in rows)
    room = WIDTH - left - (300 if legend else 20)
    draw.text((left, 16), _fit(title, 16, room), font=_font(16), fill=INK)
    if legend:
        _legend(draw, WIDTH - 20, 26)
    _bars(draw, (left, header, WIDTH - 20, header + pitch * len(rows)), rows)
    draw.text(
        ((left + WIDTH - 20) / 2, height - 8),
        _says(N_("points")),
        font=_font(11),
        fill=MUTED,
        anchor="md",
    )
    return _png(image)

"""Levels of the gate on dev_languages.jsonl: nine other languages, mixed texts and evasions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from compliance_rules import CATEGORIES, Outcome, check
from compliance_rules.evaluate import Report, evaluate, read_corpus

CORPUS = Path(__file__).parent.parent / "corpus" / "dev_languages.jsonl"
LANGUAGES = ("de", "fr", "es", "it", "pt", "ja", "zh", "nl", "pl")
PUBLISHED = (Outcome.PASS, Outcome.WARN)  # what reaches a channel
# Today's levels, rounded so that one more mistake of a kind fails.
MACRO_FLOOR = 0.97
FLAGGED_CEILING = 0.011  # 2 of 200 compliant texts: a dial-in and a service line read as phones
AE_FLOOR = 0.98
PHI_FLOOR = 0.98
# Dotted letters joined onto "she's", and a zero-width space before the "@" of an e-mail.
EVASIONS_PUBLISHED = 2
OTHER_LANGUAGES_PUBLISHED = 0


@dataclass(frozen=True)
class Scored:
    rows: list[dict[str, Any]]
    report: Report
    published: list[bool]  # per row: whether the gate would post it


@cache
def scored() -> Scored:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    published = [check(row["text"], timeout=30).outcome in PUBLISHED for row in rows]
    return Scored(rows, evaluate(read_corpus(CORPUS)), published)


def posted(keep: Any) -> list[str]:
    """The texts the gate would post among the rows `keep` selects."""
    run = scored()
    return [
        row["text"]
        for row, published in zip(run.rows, run.published, strict=True)
        if published and keep(row)
    ]


def test_the_corpus_covers_every_language_category_and_evasion() -> None:
    rows = scored().rows
    assert len(rows) >= 450
    assert len({row["text"] for row in rows}) == len(rows)
    compliant = sum(row["expect"] == ["none"] for row in rows)
    assert 0.4 <= compliant / len(rows) <= 0.6
    for lang in LANGUAGES:
        assert sum(row["lang"] == lang for row in rows) >= 30, lang
    for lang in ("de", "fr", "es", "it", "pt", "ja"):
        labels = {label for row in rows if row["lang"] == lang for label in row["expect"]}
        assert set(CATEGORIES) <= labels, (lang, sorted(set(CATEGORIES) - labels))
    assert sum(row["evasion"] for row in rows) >= 35
    assert sum(bool(row.get("mixed")) for row in rows) >= 10


def test_the_gate_holds_its_levels() -> None:
    report = scored().report
    assert report.macro_f1 >= MACRO_FLOOR, "\n".join(report.lines())
    assert report.flagged_share <= FLAGGED_CEILING, "\n".join(report.lines())
    assert report.score("adverse_event_mention").recall >= AE_FLOOR
    assert report.score("phi_patient_identifier").recall >= PHI_FLOOR


def test_no_violation_in_another_language_is_published() -> None:
    found = posted(
        lambda row: row["expect"] != ["none"] and (row["lang"] != "en" or row.get("mixed"))
    )
    assert len(found) <= OTHER_LANGUAGES_PUBLISHED, found


def test_disguised_violations_are_not_published() -> None:
    found = posted(lambda row: row["evasion"])
    assert len(found) <= EVASIONS_PUBLISHED, found


def test_compliant_look_alikes_in_other_languages_are_published() -> None:
    langs = ("fr", "es", "it", "pt", "ja", "nl", "pl")
    found = posted(lambda row: row["expect"] == ["none"] and row["lang"] in langs)
    compliant = sum(row["expect"] == ["none"] and row["lang"] in langs for row in scored().rows)
    assert len(found) == compliant

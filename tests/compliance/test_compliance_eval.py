"""Accuracy floors of the shipped rules on the labelled corpus in tests/corpus/."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance_rules import CATEGORIES, RuleError
from compliance_rules.evaluate import evaluate, read_corpus

CORPUS = Path(__file__).parent.parent / "corpus" / "kudos_labelled.jsonl"


def test_the_corpus_is_big_balanced_and_covers_every_category() -> None:
    rows = read_corpus(CORPUS)
    assert len(rows) >= 300
    compliant = sum(1 for _, labels in rows if not labels)
    assert 0.4 <= compliant / len(rows) <= 0.6
    for category in CATEGORIES:
        assert sum(category in labels for _, labels in rows) >= 10, category


def test_accuracy_floors() -> None:
    report = evaluate(read_corpus(CORPUS))
    assert report.macro_f1 >= 0.99, "\n".join(report.lines())
    assert report.flagged_share <= 0.01
    assert report.score("adverse_event_mention").recall >= 0.95
    assert report.score("phi_patient_identifier").recall >= 0.95


def test_a_bad_corpus_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "expect": ["none"]}\n{"text": "x", "expect": ["rudeness"]}\n')
    with pytest.raises(RuleError, match=r"bad\.jsonl:2: unknown categories \['rudeness'\]"):
        read_corpus(bad)


HELD_OUT = Path(__file__).parent.parent / "corpus" / "recognitions.jsonl"


def test_a_corpus_written_apart_from_the_rules_is_not_over_flagged() -> None:
    """A second corpus, written without sight of the rules: guards against regressions.

    Recall on it is below the floors above (see the README); these are today's levels,
    rounded down, so that a regression fails.
    """
    rows = read_corpus(HELD_OUT)
    assert len(rows) >= 300
    report = evaluate(rows)
    assert report.flagged_share <= 0.01
    assert report.missed_share <= 0.13
    assert report.score("adverse_event_mention").recall >= 0.95
    assert report.score("phi_patient_identifier").recall >= 0.95
    assert report.macro_f1 >= 0.89


DEV = Path(__file__).parent.parent / "corpus" / "dev_recognitions.jsonl"


def test_the_development_corpus_holds_its_levels() -> None:
    """A third corpus, chat-style and written independently, used to generalise the rules."""
    rows = read_corpus(DEV)
    assert len(rows) >= 300
    report = evaluate(rows)
    assert report.macro_f1 >= 0.98, "\n".join(report.lines())
    assert report.flagged_share <= 0.01
    assert report.missed_share <= 0.02
    assert report.score("adverse_event_mention").recall >= 0.95
    assert report.score("phi_patient_identifier").recall >= 0.95


INDEPENDENT = Path(__file__).parent.parent / "corpus" / "independent.jsonl"
# Today's levels on it, rules and second opinion: 0.866, 0.91, 0.95, 3.1% (before the
# multilingual packs, evasion folding and the safety pack: macro-F1 0.48, AE recall 0.33,
# patient-identifier recall 0.41, 3.1% compliant flagged; the rules alone today: 0.813,
# 0.83, 0.86, 2.2%).
MACRO_FLOOR = 0.85
FLAGGED_CEILING = 0.035
AE_FLOOR = 0.90
PHI_FLOOR = 0.95


def test_the_independent_corpus_holds_its_levels() -> None:
    """475 messages written by a reviewer who never saw the rules, in ten languages and with
    evasions (tests/corpus/INDEPENDENT.md); never read while the rules were written, only
    scored. Today's levels, rounded down, so a regression fails (targets in the README)."""
    rows = read_corpus(INDEPENDENT)
    assert len(rows) >= 450
    report = evaluate(rows)
    assert report.macro_f1 >= MACRO_FLOOR, "\n".join(report.lines())
    assert report.flagged_share <= FLAGGED_CEILING
    assert report.score("adverse_event_mention").recall >= AE_FLOOR
    assert report.score("phi_patient_identifier").recall >= PHI_FLOOR


RECALL_DEV = Path(__file__).parent.parent / "corpus" / "dev_recall.jsonl"


def test_the_recall_corpus_holds_its_levels() -> None:
    """A fourth corpus, chat-style and written before the rules were widened on it: idioms,
    comparisons with classes, outcome numbers, lay adverse events and patient identifiers
    without cue words, with as many compliant look-alikes. Today's levels, rounded down."""
    rows = read_corpus(RECALL_DEV)
    assert len(rows) >= 400
    compliant = sum(1 for _, labels in rows if not labels)
    assert 0.4 <= compliant / len(rows) <= 0.6
    for category in CATEGORIES:
        assert sum(category in labels for _, labels in rows) >= 20, category
    report = evaluate(rows)
    assert report.macro_f1 >= 0.97, "\n".join(report.lines())
    assert report.flagged_share <= 0.015
    assert report.missed_share <= 0.01
    assert report.score("adverse_event_mention").recall >= 0.97
    assert report.score("phi_patient_identifier").recall >= 0.99


WILD = Path(__file__).parent.parent / "corpus" / "dev_wild.jsonl"
FIELD = Path(__file__).parent.parent / "corpus" / "dev_field.jsonl"
PULSE = Path(__file__).parent.parent / "corpus" / "dev_pulse.jsonl"
SHIFT = Path(__file__).parent.parent / "corpus" / "dev_shift.jsonl"


@pytest.mark.parametrize(
    ("corpus", "macro", "flagged", "ae", "phi"),
    [
        (WILD, 0.89, 0.01, 0.96, 0.94),
        (FIELD, 0.88, 0.033, 0.93, 0.92),
        (PULSE, 0.78, 0.075, 0.90, 0.95),
        (SHIFT, 0.87, 0.035, 0.91, 0.98),
    ],
    ids=["dev_wild", "dev_field", "dev_pulse", "dev_shift"],
)
def test_the_newest_corpora_hold_their_levels(
    corpus: Path, macro: float, flagged: float, ae: float, phi: float
) -> None:
    """Corpora written apart from the rules (DEV_WILD.md, DEV_FIELD.md, DEV_PULSE.md,
    DEV_SHIFT.md): each scored
    before the rules were widened on the even-numbered half of its lines, the odd half
    kept for scoring only. Today's levels, rounded down, so a regression fails."""
    rows = read_corpus(corpus)
    assert len(rows) >= 500
    report = evaluate(rows)
    assert report.macro_f1 >= macro, "\n".join(report.lines())
    assert report.flagged_share <= flagged
    assert report.score("adverse_event_mention").recall >= ae
    assert report.score("phi_patient_identifier").recall >= phi


HELDOUT_A = Path(__file__).parent.parent / "corpus" / "heldout_a.jsonl"
HELDOUT_B = Path(__file__).parent.parent / "corpus" / "heldout_b.jsonl"


@pytest.mark.parametrize(
    ("corpus", "macro", "flagged", "ae", "phi"),
    [(HELDOUT_A, 0.84, 0.053, 0.99, 0.96), (HELDOUT_B, 0.69, 0.095, 0.93, 0.90)],
    ids=["heldout_a", "heldout_b"],
)
def test_the_held_out_corpora_hold_their_levels(
    corpus: Path, macro: float, flagged: float, ae: float, phi: float
) -> None:
    """Two corpora written from one brief by a writer who never saw the rules
    (HELDOUT.md): the first read for the gate's mistakes, the second scored only. Far
    below the targets; today's levels, rounded down, so a regression fails."""
    rows = read_corpus(corpus)
    assert len(rows) == 260
    report = evaluate(rows)
    assert report.macro_f1 >= macro, "\n".join(report.lines())
    assert report.flagged_share <= flagged
    assert report.score("adverse_event_mention").recall >= ae
    assert report.score("phi_patient_identifier").recall >= phi

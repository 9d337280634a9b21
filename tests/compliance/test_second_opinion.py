"""The second opinion beside the rules: its weights are those of the corpora as they are,
it only ever holds, only adds categories the rules did not find, scores the same in every
process, and stays quick and whole on hostile text."""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from compliance_rules import (
    CATEGORIES,
    Outcome,
    Result,
    RuleError,
    RuleSet,
    check,
    language_packs,
    load_rules,
    pack_path,
    redact,
)
from compliance_rules import second_opinion as opinion_module
from compliance_rules.second_opinion import (
    PACK,
    SecondOpinion,
    Settings,
    features,
    fingerprint,
    reading,
    shipped,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train_second_opinion.py"
# Violations in the training data that the model scores high on and that no rule caught
# when the weights were trained (the rules are widened all the time: see the test).
UNCAUGHT = (
    "Kudos to Petra for the battle card: Duravia is a failed drug and its makers hide the data.",
    "Big thanks <at>Sarah O'Neill</at> for the wine dinners for neurologists who hit their "
    "Neurabel prescription target.",
    "Kudos to Noah for the Somnira talk track recommending double the labelled dose for "
    "tough cases.",
    "Kudos to Milo for paying the pulmonologists 'speaker fees' for talks that never "
    "happened, Respiclear is booming.",
)
THANKS = "thanks <@U02ABCD|maria> for turning the site activation email around so fast, legend"


def training() -> ModuleType:
    """The training script, as a module (it is not part of the package)."""
    spec = importlib.util.spec_from_file_location("train_second_opinion", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


@cache
def rules_only() -> RuleSet:
    """The default rules (every language's) without the second opinion."""
    rules = load_rules(pack_path("default"), deferred=language_packs())
    rules.second_opinion = False
    return rules


def test_the_weights_were_trained_on_the_corpora_as_they_are() -> None:
    rows = training().training_rows()
    assert len(rows) > 3000
    assert shipped().fingerprint == fingerprint(rows), (
        "the training corpora changed since the weights were trained: run "
        ".venv/bin/python scripts/train_second_opinion.py"
    )


def test_the_weights_file_records_what_it_needs_and_stays_small() -> None:
    with gzip.open(opinion_module.WEIGHTS, "rt", encoding="utf-8") as stream:
        raw = json.load(stream)
    assert Settings(**raw["settings"]) == shipped().settings
    assert set(raw["categories"]) <= set(CATEGORIES)
    assert {"adverse_event_mention", "phi_patient_identifier"} <= set(raw["categories"])
    for entry in raw["categories"].values():
        assert 0.5 <= entry["threshold"] < 1
    assert opinion_module.WEIGHTS.stat().st_size < 2_000_000


def test_scores_are_those_of_the_features_the_model_was_trained_on() -> None:
    opinion = shipped()
    for text in [*UNCAUGHT, THANKS, "", "東京の病院で会いました。" * 5, "Größte Wirkung!"]:
        found = features(reading(text), opinion.settings)
        scores = opinion.scores(text)
        for category in opinion.categories:
            weighed = math.fsum(category.weights.get(b, 0.0) for b in found)
            margin = category.bias + weighed * opinion.settings.scale(len(found))
            assert scores[category.name] == pytest.approx(1 / (1 + math.exp(-margin)), abs=1e-6)


def test_a_violation_no_rule_catches_is_held_for_a_reviewer() -> None:
    missed = [text for text in UNCAUGHT if check(text, rules_only()).outcome is Outcome.PASS]
    assert missed, "the rules now catch every example: add violations they still miss"
    for text in missed:
        result = check(text)
        assert result.outcome is Outcome.HOLD
        assert result.findings
        for finding in result.findings:
            assert finding.rule == f"{PACK}.{finding.category}"
            assert finding.pack == PACK
            assert (finding.start, finding.end, finding.match) == (0, len(text), text)
            assert "a compliance reviewer will look" in finding.message


PRAISE = [
    THANKS,
    "you're the best",
    "best launch ever. The product page is live",
    "guaranteed to make everyone smile",
    "you killed it on stage",
    "Best wishes to the whole team! Great best practices session. Great best practices session.",
]


@pytest.mark.parametrize("text", PRAISE)
def test_everyday_praise_passes(text: str) -> None:
    opinion = shipped()
    scores = opinion.scores(text)
    assert all(scores[c.name] < c.threshold for c in opinion.categories)


def test_findings_only_hold_and_never_repeat_a_category_the_rules_found() -> None:
    rows = training().training_rows()[::15]
    rules, added = rules_only(), 0
    for text, _ in rows:
        by_rules = {f.category for f in check(text, rules).findings}
        ours = [f for f in check(text).findings if f.pack == PACK]
        added += len(ours)
        for finding in ours:
            assert finding.outcome is Outcome.HOLD
            assert finding.category not in by_rules
    assert added, "the sample should hold some texts the rules pass"
    opinion = shipped()
    assert opinion.findings(UNCAUGHT[0], frozenset(CATEGORIES)) == []
    held = {f.category for f in opinion.findings(UNCAUGHT[0], frozenset())}
    assert held
    assert not held & {f.category for f in opinion.findings(UNCAUGHT[0], frozenset(held))}


def test_a_held_text_is_kept_readable_for_its_reviewer() -> None:
    """The model does not say where a patient identifier is: redacting its finding would
    leave the reviewer a text of nothing but "[patient identifier]"."""
    text = "thanks Jo, Mrs Ana Lima, 82, from 14 Elm Road Leeds called about her pen again"
    held = shipped().findings(text, frozenset())
    assert "phi_patient_identifier" in {f.category for f in held}
    assert redact(text, Result(Outcome.HOLD, tuple(held))) == text


def test_without_the_second_opinion_only_the_rules_speak() -> None:
    for text in UNCAUGHT:
        assert not [f for f in check(text, rules_only()).findings if f.pack == PACK]


def test_scores_are_the_same_in_another_process() -> None:
    texts = [*UNCAUGHT, THANKS, "Überweisung für Frau K., 83, Zimmer 12"]
    here = [repr(sorted(shipped().scores(t).items())) for t in texts]
    program = (
        "import json, sys\n"
        "from compliance_rules.second_opinion import shipped\n"
        "texts = json.load(sys.stdin)\n"
        "print(json.dumps([repr(sorted(shipped().scores(t).items())) for t in texts]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    assert json.loads(done.stdout) == here


HOSTILE = {
    "100 kB of words": "great work on the launch deck " * 3500,
    "100 kB without a space": "x" * 100_000,
    "unpaired surrogates": "thanks \ud800 for \udfff the deck \ud83d" * 50,
    "a flood of combining marks": "g" + "\u0301" * 50_000 + "reat work",
    "marks on every letter": "".join(c + "\u0301\u0302\u0303" for c in "best drug ever " * 400),
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_is_scored_quickly_and_whole(text: str) -> None:
    opinion = shipped()
    began = time.monotonic()
    scores = opinion.scores(text)
    assert time.monotonic() - began < 2.0
    assert set(scores) == {c.name for c in opinion.categories}
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    result = check(text)  # held, passed or out of time: never an exception
    assert result.outcome in set(Outcome)


def test_a_long_text_out_of_time_raises_and_is_held_incomplete() -> None:
    text = "great work on the launch deck " * 3500
    with pytest.raises(TimeoutError):
        shipped().scores(text, deadline=time.monotonic())
    result = check(text, timeout=0.0)
    assert result.outcome is Outcome.HOLD and result.incomplete


def _corrupt(tmp_path: Path) -> dict[str, Path]:
    good = json.loads(gzip.decompress(opinion_module.WEIGHTS.read_bytes()))
    files: dict[str, Path] = {"missing": tmp_path / "missing.json.gz"}
    (tmp_path / "plain.json.gz").write_text("{}")
    files["not gzip"] = tmp_path / "plain.json.gz"
    (tmp_path / "cut.json.gz").write_bytes(opinion_module.WEIGHTS.read_bytes()[:5000])
    files["cut short"] = tmp_path / "cut.json.gz"
    broken = {
        "other format": {**good, "format": 99},
        "no categories": {**good, "categories": {}},
        "unknown category": {**good, "categories": {"rudeness": good["categories"]["off_label"]}},
        "bucket out of range": {
            **good,
            "categories": {"off_label": {**good["categories"]["off_label"], "buckets": [-1]}},
        },
        "threshold of 1": {
            **good,
            "categories": {"off_label": {**good["categories"]["off_label"], "threshold": 1}},
        },
    }
    for name, content in broken.items():
        path = tmp_path / f"{name.replace(' ', '_')}.json.gz"
        path.write_bytes(gzip.compress(json.dumps(content).encode()))
        files[name] = path
    return files


def test_missing_or_corrupt_weights_fail_loudly(tmp_path: Path) -> None:
    for name, path in _corrupt(tmp_path).items():
        with pytest.raises(RuleError, match="second-opinion weights"):
            SecondOpinion.load(path)
        assert name


def test_without_weights_warming_fails_and_no_text_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opinion_module, "WEIGHTS", tmp_path / "missing.json.gz")
    monkeypatch.setattr(opinion_module, "_shipped", [])
    rules = RuleSet([])
    with pytest.raises(RuleError):
        rules.warm()
    result = check(THANKS, rules)
    assert result.outcome is Outcome.HOLD and result.incomplete
    rules.second_opinion = False
    assert check(THANKS, rules).outcome is Outcome.PASS


def test_a_text_of_a_few_words_said_over_and_over_is_left_to_the_rules() -> None:
    # Unlike anything the model learned from; its score grows with every repeat.
    text = " ".join(f"step{i}" for i in range(500))
    opinion = shipped()
    assert max(opinion.scores(text).values()) > 0.9
    assert opinion.findings(text, frozenset()) == []

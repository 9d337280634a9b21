"""Patterns compiled when first used; the shipped packs' examples proven when warmed."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from compliance_rules import RuleError, RuleSet, check, load_rules
from compliance_rules.engine import PACKS
from compliance_rules.packs import load_pack
from compliance_rules.pattern import Regex, compiling, start_clock


def test_every_shipped_pack_proves_its_examples() -> None:
    rules = load_rules(*sorted(PACKS.glob("*.yml")))
    assert all(r.shipped for r in rules.every_rule())
    rules.prove()
    every = [p for r in rules.every_rule() for p, _ in r.parts]
    assert every and all(p._compiled is not None for p in every)


def test_a_shipped_rule_whose_example_fails_is_caught_when_proven() -> None:
    (rule, *_) = load_rules(PACKS / "default.yml").rules
    broken = dataclasses.replace(rule, must_match=("nothing to see here",))
    rules = RuleSet([broken])  # a shipped rule is not proven as it loads...
    with pytest.raises(RuleError, match="must_match example not matched"):
        rules.prove()  # ...but when the rules are proven (the server does it as it warms)


def test_a_pack_of_ones_own_is_proven_as_it_loads(tmp_path: Path) -> None:
    pack = tmp_path / "own.yml"
    pack.write_text(
        "pack: own\nrules:\n"
        "  - id: own.bad\n    category: superlative_claim\n    type: existence\n"
        "    outcome: block\n    message: m\n    patterns: ['best(']\n"
        "    must_match: ['the best']\n    must_not_match: ['fine']\n",
        encoding="utf-8",
    )
    assert not any(r.shipped for r in load_pack(pack))
    with pytest.raises(RuleError, match=r"own\.bad: bad regex"):
        load_rules(pack)


def test_one_source_is_one_pattern_compiled_once() -> None:
    one, same = Regex(r"\bunique-source-1\b", 2), Regex(r"\bunique-source-1\b", 2)
    assert one is same
    assert one._compiled is None
    assert one.search("a UNIQUE-SOURCE-1 b") is not None
    assert one._compiled is not None


def test_compiling_is_not_counted_against_a_texts_time() -> None:
    start_clock()
    pattern = Regex(r"\b(?:" + "|".join(f"w{i}x" for i in range(3000)) + r")\b", 2)
    before = time.monotonic()
    assert pattern.search("w2999x") is not None
    took = time.monotonic() - before
    assert 0 < compiling() <= took
    # A check on rules just loaded (whose patterns it compiles as it runs, unless an earlier
    # test compiled them) finishes within its budget.
    fresh = load_rules(PACKS / "default.yml")
    result = check("Our drug is the best treatment ever, guaranteed cure", fresh)
    assert not result.incomplete and result.findings

"""The shipped facts about each pattern's regex (`compliance_rules/derived.py`): current with
the packs, equal to what the regexes say on the running Python, and never a wrong answer for
a pattern the file does not hold or when the file is damaged."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import regex

from compliance_rules import derived, literals, required


@pytest.fixture
def fresh() -> Iterator[None]:
    """Every cache of regex readings empty before and after (the table read again too)."""
    derived.table.cache_clear()
    literals.clear_caches()
    required.clear_caches()
    yield
    derived.table.cache_clear()
    literals.clear_caches()
    required.clear_caches()


def test_the_shipped_file_is_what_the_packs_regexes_say_now() -> None:
    with gzip.open(derived.PATH, "rt", encoding="utf-8") as f:
        shipped = json.load(f)
    assert derived.derive() == shipped, (
        "compliance_rules/derived.json.gz is stale: run scripts/write_derived.py"
    )
    assert len(shipped["gate"]) > 1000 and len(shipped["start"]) > 1000


def test_loading_the_shipped_rules_parses_no_regex(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliance_rules import engine

    def parse(source: str, flags: int) -> None:
        raise AssertionError(f"parsed at load: {source[:80]}")

    monkeypatch.setattr(literals, "_parse", parse)
    monkeypatch.setattr(required, "parsed", parse)
    rules = engine.load_rules(engine.pack_path("default"), deferred=engine.language_packs())
    assert len(rules.rules) > 50


def test_a_pattern_the_file_does_not_hold_is_read_from_its_regex(fresh: None) -> None:
    pattern = regex.compile(r"\bzorblaxine\s+(?:cured|fixed)\b", regex.IGNORECASE)
    assert derived.table()["gate"](derived.key_of(pattern.pattern, 2))[0] is False
    # Literals are read up to six characters: enough to be rare.
    assert literals.literal_gate(pattern) == frozenset({literals.WORD_START + "zorbla"})
    assert literals.may_match_empty(pattern) is False


def test_a_damaged_file_means_every_regex_is_read_again(
    fresh: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = tmp_path / "derived.json.gz"
    with gzip.open(damaged, "wt", encoding="utf-8") as f:
        json.dump({"version": derived.VERSION, "sets": [["x"]], "gate": {}}, f)  # kinds missing
    monkeypatch.setattr(derived, "PATH", damaged)
    assert derived.table() == {}
    pattern = regex.compile(r"\bbest\s+in\s+class\b", regex.IGNORECASE)
    assert literals.literal_gate(pattern) == frozenset({literals.WORD_START + "best"})

    damaged.write_bytes(b"not gzip at all")
    derived.table.cache_clear()
    assert derived.table() == {}


def test_only_a_regexs_own_warning_counts_against_it(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    # `re` warns of a possible nested set: that regex is not read.
    assert literals._parse("[[a]", 0) is None
    # A warning from elsewhere during the parse (the collector finalising an unclosed
    # database) follows the filters in force and does not turn into an error.
    real = literals._parser.parse

    def parse(source: str, flags: int) -> object:
        warnings.warn("unclosed database in <sqlite3.Connection>", ResourceWarning, stacklevel=1)
        return real(source, flags)

    monkeypatch.setattr(literals._parser, "parse", parse)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        assert literals._parse("zorbla", 0) is not None

"""Named word lists (`\\L<...>`): matched as a set, read for literals like an alternation."""

from __future__ import annotations

import re

from compliance_rules.engine import drug_vocabulary
from compliance_rules.lists import compile_pattern, lists_in, named
from compliance_rules.literals import _literal_gate, _start_literals


def test_a_named_list_matches_its_words_whole_and_case_blind() -> None:
    token = named(["Lipitor", "atorvastatin", "ator"], "test")
    pattern = compile_pattern(rf"\b{token}\b", re.IGNORECASE)
    found = [m.group() for m in pattern.finditer("LIPITOR or Atorvastatin; ator, atorx")]
    assert found == ["LIPITOR", "Atorvastatin", "ator"]


def test_two_different_lists_under_one_label_do_not_clash() -> None:
    one, other = named(["alpha"], "same"), named(["beta"], "same")
    assert one != other
    assert compile_pattern(one, 0).search("beta") is None
    assert compile_pattern(other, 0).search("beta") is not None


def test_a_named_list_gives_its_words_as_literals() -> None:
    token = named(["Lipitor", "Crestor"], "lit")
    source = rf"\bmore effective than \b{token}\b"
    assert _literal_gate(source, re.IGNORECASE) == frozenset({"\x00more e"})
    assert _start_literals(rf"\b{token}\b is", re.IGNORECASE) == frozenset(
        {"\x00lipito", "\x00cresto"}
    )
    # A word shorter than the literals' length runs on into what follows.
    assert _start_literals(rf"{named(['ab'], 'short')} xyz", 0) == frozenset({"ab xyz"})


def test_the_drug_names_are_one_list_not_an_alternation() -> None:
    (drugs,) = drug_vocabulary()["drugs"]
    assert len(drugs) < 100  # a reference, not hundreds of names
    (listed,) = lists_in(drugs).values()
    assert len(listed) > 300
    assert compile_pattern(drugs, re.IGNORECASE).search("switched to ATORVASTATIN") is not None

"""Property tests: the normaliser and the engine never crash, and their spans stay honest."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from compliance_rules import (
    Outcome,
    RuleSet,
    check,
    default_rules,
    language_packs,
    load_rules,
    pack_path,
)
from compliance_rules.normalise import normalise

MARKUP = st.sampled_from(
    [
        "<@U0002|bob>",
        "<@U0003>",
        "<#C0001|launch>",
        "<https://example.com|the deck>",
        "<!here>",
        "<at>Dana Reyes</at>",
        "&amp;",
        "&lt;",
        ":tada:",
        "<",
        ">",
        "|",
        "::",
    ]
)
WORDS = st.sampled_from(
    ["thanks", "for", "the", "Oncozol", "patient", "rash", "best", "dose", "MRN", "1234567", "!"]
)
TEXT = st.lists(st.one_of(MARKUP, WORDS, st.text(max_size=8)), max_size=30).map(" ".join)
SAFE = [
    "Best wishes to the whole team!",
    "Safe travels home from the congress.",
    "Thanks for the safety training.",
    "Great best practices session.",
    "500 patients enrolled so far.",
    "Enjoy a drug-free weekend.",
]
CLEAN = [
    "thanks for the site activation email",
    "great work on the Cardivex email campaign, 40% open rate",
    "<@U0002|bob> nailed the storefront launch :tada:",
    "the HCP portal copy is live in five languages",
]


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_normalise_never_crashes_and_maps_every_character(text: str) -> None:
    norm = normalise(text)
    assert len(norm.starts) == len(norm.ends) == len(norm.text)
    assert all(0 <= s < e <= len(text) for s, e in zip(norm.starts, norm.ends, strict=True))


@given(TEXT)
@example("thanks <@U0002|bob> <#C0001|launch> กะกำ <#C0001|launch>")  # a language no pack reads
@settings(max_examples=300, deadline=None)
def test_check_never_crashes_and_spans_point_inside_the_text(text: str) -> None:
    result = check(text)
    for finding in result.findings:
        assert 0 <= finding.start <= finding.end <= len(text)
        assert finding.match == text[finding.start : finding.end]
    strongest = max((f.outcome for f in result.findings), key=lambda o: o.rank, default=None)
    assert result.outcome is (strongest or Outcome.PASS)


@settings(deadline=None)  # the first example may load a language's pack, once
@given(st.sampled_from(CLEAN), st.lists(st.sampled_from(SAFE), max_size=4))
def test_a_pass_stays_a_pass_when_safe_phrases_are_appended(base: str, extra: list[str]) -> None:
    assert check(base).outcome is Outcome.PASS
    # The rules' property: the second opinion's score is a weighing of the whole text, and
    # the same phrase said three times weighs more than once.
    assert check(" ".join([base, *extra]), _rules_only()).outcome is Outcome.PASS


@cache
def _rules_only() -> RuleSet:
    return load_rules(pack_path("default"), deferred=language_packs(), second_opinion=False)


@cache
def _ungated() -> RuleSet:
    """The default rules uncompiled: every pattern searched for in every text, the plain way."""
    rules = default_rules()
    return RuleSet(list(rules.every_rule()), rules.registry, rules.actions, scan=False)


# Words the scan looks for, in odd cases and spellings: characters a case-blind match
# takes for ASCII letters (the Kelvin sign, the long s, a dotted capital I), digits of
# other scripts, separators `re` and `regex` read differently, titles and clause ends.
TRICKY = st.sampled_from(
    [
        "CARDIVEX",
        "Cardivex in pregnancy",
        "Glucentra for weight loss",
        "kids",
        "the best",
        "the safest drug",
        "no side effects",
        "patient",
        "555-214-8890",
        "MRN 1234567",
        "54yo",
        "b. 03/04/1950",
        "bob@example.com",
        "Veltrix is garbage",
        "\u212a",
        "\u017fafe",
        "\u0130",
        "\u0663\u0664",
        "\u2014",
        "\x1c",
        "Dr.",
        ". but ",
        ";",
        "\n",
    ]
)
ANY_TEXT = st.lists(
    st.one_of(MARKUP, WORDS, TRICKY, st.sampled_from(SAFE + CLEAN), st.text(max_size=8)),
    max_size=20,
).map(lambda parts: "".join(parts) if len(parts) % 3 == 0 else " ".join(parts))


@given(ANY_TEXT)
@settings(max_examples=500, deadline=None)
def test_the_compiled_scan_never_changes_a_result(text: str) -> None:
    # A long time budget: on a busy machine the slower uncompiled check must not run out
    # of time and be held, which is not what this compares.
    assert check(text, timeout=30) == check(text, _ungated(), timeout=30)


@pytest.mark.exhaustive
def test_examples_and_corpus_give_the_same_results_compiled_or_not() -> None:
    texts = [t for rule in default_rules().rules for t in (*rule.must_match, *rule.must_not_match)]
    for corpus in sorted((Path(__file__).parent.parent / "corpus").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in corpus.read_text("utf-8").splitlines()]
    for text in texts:
        assert check(text, timeout=30) == check(text, _ungated(), timeout=30)

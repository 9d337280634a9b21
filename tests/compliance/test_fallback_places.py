"""Patterns kept off the scan (their literals may start inside a word) are tried where their
literals are: never missing a place the pattern itself would match at."""

from __future__ import annotations

from compliance_rules import default_rules
from compliance_rules.finder import Places
from compliance_rules.folding import fold
from compliance_rules.hits import Text, starts_of
from compliance_rules.literals import WORD_START

TEXTS = [
    "Cardivex also works for migraines, the GP says",
    "我妈在吃卡迪维 Cardivex also helps with her sleep, and 立匹瓦 too",
    "ソムニラは最高の睡眠薬です。Somnira is the best, Somnira also treats jet lag",
    "Dr. Weber sagt, Somnira ist das beste Schlafmittel der Welt",
    "the FDA approval for Lipiva is coming next month, 100% sure",
    "no product named here at all, just thanks for the deck",
]


def test_places_are_every_start_of_a_literal_overlapping_ones_too() -> None:
    places = Places({"aba", WORD_START + "ba"})
    assert places.find("ababa") == [0, 1, 2, 3]
    assert Places({"卡迪维"}).find("我吃卡迪维 卡迪维") == [2, 6]
    assert Places({"lipiva"}).find("no names here") == []


def test_a_pattern_tried_at_its_places_misses_no_match() -> None:
    rules = default_rules()
    rules.warm()
    checked = matched = 0
    for language in sorted(rules.languages):
        part = rules.part(language)
        if part is None or part.compiled is None:
            continue
        for fallback in part.compiled._index.fallbacks:
            if fallback.places is None:
                continue
            for text in TEXTS:
                places = set(fallback.places.find(fold(text)))
                starts = set(starts_of(fallback.pattern, Text(text, None)))
                matched += bool(starts)
                assert starts <= places, (
                    part.rules[fallback.rule].id,
                    text,
                )
                checked += 1
    assert checked > 0 and matched > 0  # some pattern is tried at its places, and matches

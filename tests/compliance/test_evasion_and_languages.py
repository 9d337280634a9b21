"""Evasions are undone before the rules read a text, each language is read by its own packs,
and a text in a language no pack covers is held, never published unchecked."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from compliance_rules import Outcome, RuleError, check, default_rules, load_rules, pack_path
from compliance_rules.evasion import unevade
from compliance_rules.language import UNKNOWN_LANGUAGE, detect, looks_english
from compliance_rules.normalise import normalise

PLAIN = "the new deck says our pill cures migraines for good"
# (how it is hidden, the hidden text, the word as it is written in it)
EVASIONS = [
    ("soft hyphen", "the new deck says our pill cu\u00adres migraines for good", "cu\u00adres"),
    (
        "zero-width space",
        "the new deck says our pill cu\u200bres migraines for good",
        "cu\u200bres",
    ),
    ("Cyrillic letters", "the new deck says our pill \u0441ur\u0435s migraines for good", None),
    (
        "full-width letters",
        "the new deck says our pill \uff43\uff55\uff52\uff45\uff53 migraines",
        None,
    ),
    ("spaced letters", "the new deck says our pill c u r e s migraines for good", "c u r e s"),
    ("spaced and quoted", "the new deck says our pill 'c u r e s' migraines", "c u r e s"),
    # Greek small epsilon: Unicode lists no Latin look-alike for it, but one for its capital.
    ("Greek letter", "the new deck says our pill cur\u03b5s migraines for good", None),
    ("dotted letters", "the new deck says our pill c.u.r.e.s migraines for good", "c.u.r.e.s"),
    ("digit for a letter", "the new deck says our pill cur3s migraines for good", "cur3s"),
    ("word joiner", "the new deck says our pill cur\u2060es migraines for good", None),
    ("bidi control", "the new deck says our pill \u202acures\u202c migraines for good", None),
]


def categories(text: str) -> set[str]:
    return {f.category for f in check(text).findings}


def test_the_plain_text_is_caught_so_the_hidden_ones_can_be_compared() -> None:
    assert "cure_guarantee" in categories(PLAIN)


@pytest.mark.parametrize(("how", "text", "quoted"), EVASIONS, ids=[e[0] for e in EVASIONS])
def test_an_evasion_is_caught_and_quoted_as_written(
    how: str, text: str, quoted: str | None
) -> None:
    result = check(text)
    (found,) = [f for f in result.findings if f.category == "cure_guarantee"]
    assert found.match == text[found.start : found.end]  # points into the original
    if quoted is not None:
        assert quoted in found.match


def test_an_adverse_event_hidden_with_look_alike_letters_goes_to_drug_safety() -> None:
    plain = "my aunt was hospitalised with a severe rash after her second dose of Cardivex"
    assert check(plain).outcome is Outcome.ROUTE_PV
    hidden = plain.replace("hospitalised", "h\u043esp\u0456talised").replace("rash", "ra\u00adsh")
    assert check(hidden).outcome is Outcome.ROUTE_PV


def test_ordinary_texts_are_not_read_twice_and_keep_their_meaning() -> None:
    for text in (
        "thanks Bob for the site activation email, great job",
        "HbA1c results dashboard is live, thanks T2D team",
        "Danke an Jonas für die schnelle Freigabe",
        "田中さん、資料作成ありがとうございました",
    ):
        assert unevade(normalise(text)) is None, text
    for text in ("thanks for the Q3 plan", "great work on the B2B portal, A+ job"):
        assert check(text).outcome is Outcome.PASS, text


def test_hostile_input_gets_an_answer_in_time_and_never_an_exception() -> None:
    texts = [
        "cures " * 17_000,  # 100 kB
        "thanks \ud800 for the \udfff email",  # unpaired surrogates
        "\u202e" * 500 + "cures everything" + "\u202c" * 500,  # bidi overrides
        "c" + "\u0301" * 5_000 + "ures migraines with our pill",  # a flood of combining marks
        "\u200b".join("our pill cures migraines") * 50,
        "a b " * 20_000,
    ]
    for text in texts:
        started = time.monotonic()
        result = check(text)
        assert time.monotonic() - started < 2.0
        assert result.outcome in set(Outcome)


def test_english_is_told_by_its_words_without_the_model() -> None:
    assert looks_english("huge thanks to Maria for the launch checklist")
    assert not looks_english("Grazie a Marco per il lavoro sul sito web")
    covered = frozenset({"en", "de", "it"})
    assert detect("Grazie a Marco per il lavoro sul sito web, bravissimo", covered).found == {
        "en",
        "it",
    }


GERMAN_PACK = """\
pack: test-de
language: de
rules:
  - id: test.de.wundermittel
    category: efficacy_overstatement
    type: existence
    outcome: block
    message: A medicine is not a miracle.
    patterns: ['wundermittel']
    must_match: ['Das ist ein Wundermittel']
    must_not_match: ['Das ist ein Mittel']
"""


@pytest.fixture
def german(tmp_path: Path) -> Path:
    path = tmp_path / "de.yml"
    path.write_text(GERMAN_PACK, encoding="utf-8")
    return path


def test_each_language_is_read_by_its_own_pack_and_english_always(german: Path) -> None:
    rules = load_rules(pack_path("default"), german)
    assert rules.languages == {"en", "de"}
    text = "Danke an Jonas: unser Präparat ist ein echtes Wundermittel für alle Patienten"
    assert {f.rule for f in check(text, rules).findings} == {"test.de.wundermittel"}
    # The same word in an English text is not read by the German pack...
    assert check("thanks Jonas, the slide is great", rules).outcome is Outcome.PASS
    # ...and a mixed text is read by both.
    mixed = f"{text}. Also our pill cures migraines for good."
    found = {f.category for f in check(mixed, rules).findings}
    assert {"efficacy_overstatement", "cure_guarantee"} <= found


def test_a_language_no_pack_covers_is_held_with_the_reason(german: Path) -> None:
    rules = load_rules(pack_path("default"), german)
    swedish = "Tack till Erik för hjälpen med kampanjen, riktigt bra jobbat av hela gruppen!"
    result = check(swedish, rules)
    assert result.outcome is Outcome.HOLD
    (finding,) = result.findings
    assert finding.rule == UNKNOWN_LANGUAGE and "do not cover (sv)" in finding.message
    warned = load_rules(pack_path("default"), german, unknown_language="warn")
    assert check(swedish, warned).outcome is Outcome.WARN
    # Short or English texts are never "unknown".
    for text in ("tack!", "thanks Erik for the help with the campaign, great work"):
        assert check(text, rules).outcome is Outcome.PASS, text


def test_another_language_s_pack_loads_when_a_text_first_needs_it(german: Path) -> None:
    rules = load_rules(pack_path("default"), deferred=[german])
    assert rules.languages == {"en", "de"} and "test-de@0" in rules.packs
    assert "de" not in rules.parts  # not compiled at start
    text = "Danke an Jonas: unser Präparat ist ein echtes Wundermittel für alle Patienten"
    assert check(text, rules).outcome is Outcome.BLOCK
    assert "de" in rules.parts


def test_a_language_pack_that_does_not_load_holds_its_texts(tmp_path: Path) -> None:
    broken = tmp_path / "de.yml"
    broken.write_text(GERMAN_PACK.replace("Das ist ein Wundermittel", "Nichts"), "utf-8")
    rules = load_rules(pack_path("default"), deferred=[broken])
    text = "Danke an Jonas für die schnelle Freigabe der Kampagne, super Arbeit!"
    result = check(text, rules)
    assert result.outcome is Outcome.HOLD and result.incomplete
    assert check("thanks Jonas for the quick approval", rules).outcome is Outcome.PASS
    with pytest.raises(RuleError, match="must_match example not matched"):
        rules.warm()


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        # A letter of an elided word next to spaced-out letters is not one of them.
        ("she's b.r.e.a.s.t.f.e.e.d.i.n.g on it", "she's breastfeeding on it"),
        ("g.u.a.r.i.s.c.e l'epatite", "guarisce l'epatite"),
        # A quote is not an elision: the letters inside quotes are one word.
        ("it is 'h a r m l e s s' for all", "it is 'harmless' for all"),
        # One separator throughout: dots then a space do not run on into the next word.
        ("s.a.f.e.s.t d rug", "safest d rug"),
        ("c. u. r. e. s it", "cures it"),
        # Dots between pieces of one or two letters, most of them one.
        ("nach Dermalyn Qu.a.d.d.e.l.n bekommen", "nach Dermalyn Quaddeln bekommen"),
        ("the U.S.A. team", "the USA. team"),
        # A digit for a letter anywhere in the word, not only in its first part.
        ("our d1v1dend will b00st", "our dividend will boost"),
        # Japanese and Chinese put no spaces inside a word: two characters are enough.
        ("ヴェルトリックスは ゴ ミ だ", "ベルトリックスは ゴミだ"),
        ("这个药是 垃 圾", "这个药是 垃圾"),
        # Katakana "v" syllables read as the "b" ones: ヴェ as ベ, ヴ as ブ.
        ("カルディヴェックス", "カルディベックス"),
        ("ヴァリュー ヴ", "バリュー ブ"),
    ],
)
def test_spaced_letters_are_joined_only_within_their_run(text: str, spelled: str) -> None:
    unevaded = unevade(normalise(text))
    assert unevaded is not None and unevaded.text == spelled


@pytest.mark.parametrize("text", ["v1.2.3 is out", "see ab.cd.ef", "i.e. fine", "HbA1c of 7"])
def test_codes_and_versions_are_not_read_as_hidden_words(text: str) -> None:
    assert unevade(normalise(text)) is None


def test_the_at_sign_of_an_email_address_is_not_read_as_a_letter() -> None:
    unevaded = unevade(normalise("write to jane.doe\u200b@gmail.com, she is b3st"))
    assert unevaded is not None
    assert unevaded.text == "write to jane.doe@gmail.com, she is best"
    found = check("Patient contact: jane.doe\u200b@gmail.com", default_rules())
    assert "phi_patient_identifier" in {f.category for f in found.findings}


def test_a_katakana_spelling_with_v_is_quoted_as_written() -> None:
    found = check("ヴェルトリックスは ゴ ミ だ、全員カルディベックスに", default_rules())
    (finding,) = [f for f in found.findings if f.category == "competitor_disparagement"]
    assert finding.match.startswith("ヴェルトリックス") and finding.start == 0


def test_n0_reads_as_no() -> None:
    found = check("Somnira has n0 side effects at all", default_rules())
    assert "safety_minimization" in {f.category for f in found.findings}


ALL_COVERED = frozenset({"en", "de", "fr", "es", "it", "pt", "ja", "zh", "nl", "pl"})


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("danke for calling Frau Huber about her Lipiva Muskelschmerzen", "de"),
        ("thanks for the deck, merci beaucoup, you saved the launch", "fr"),
        ("gracias team, the webinar went great and the booth too", "es"),
        ("cardivex ist einfach the best, tell every cardiologist", "de"),
        ("great job Sanne, het team loved the new booth", "nl"),
    ],
)
def test_a_sentence_that_switches_language_is_read_by_both_packs(text: str, language: str) -> None:
    assert detect(text, ALL_COVERED).found == {"en", language}


def test_an_english_word_that_another_language_also_has_calls_no_other_pack() -> None:
    text = "thanks Della for the heel-to-toe jest at the con call, per the plan"
    assert detect(text, ALL_COVERED).found == {"en"}


def test_an_adverse_event_in_a_borrowed_word_goes_to_drug_safety() -> None:
    text = "/kudos @lena, danke for calling back Frau Huber about her Lipiva Muskelschmerzen"
    assert check(text, default_rules()).outcome is Outcome.ROUTE_PV


def test_a_short_sentence_taken_for_an_uncovered_language_is_read_by_the_likeliest_pack() -> None:
    # Three Polish words look Czech or Slovak to the model; Polish, covered, reads them.
    assert "pl" in detect("Lipiva deklasuje statyny", ALL_COVERED).found


@pytest.mark.parametrize(
    "text",
    [
        "Dr Kaur tried Respiclear for her COPD patients and says they're breathing better",
        "Un pneumologue donne Respiclear à des enfants de 6 ans et leurs crises ont diminué.",
        "有位医生把Oncozol用在一线治疗，病人肿瘤缩小了。",  # noqa: RUF001
    ],
)
def test_off_label_use_told_with_its_outcome_goes_to_drug_safety(text: str) -> None:
    found = check(text, default_rules())
    assert found.outcome is Outcome.ROUTE_PV
    assert {"off_label", "adverse_event_mention"} <= {f.category for f in found.findings}


def test_off_label_promotion_without_an_outcome_is_held_not_sent_to_drug_safety() -> None:
    found = check("Let's pitch Respiclear for COPD to every GP", default_rules())
    assert found.outcome is Outcome.HOLD
    assert {f.category for f in found.findings} == {"off_label"}

"""Which languages a text is written in, so each is read by the packs written for it.

English is recognised by its common words without a model (most kudos); anything else is
split into sentences and each is identified by `py3langid` (a naive Bayes model shipped in
its wheel; nothing is downloaded). A sentence identified with confidence as a language no
pack covers makes the text "unknown": it is never published unchecked.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from compliance_rules.model import Finding, Outcome

# The finding of a text in a language no pack covers (`compliance.unknown_language`).
UNKNOWN_LANGUAGE = "unknown_language"
# Words that are English and rarely anything else (not "a", "in", "die", "per", "also").
_ENGLISH = frozenset(
    """the and for you your thanks thank thx to of with this that was were great team work
    job it its we our all so she he they them their is are be been at from just really help
    helping helped who what when my me us awesome amazing huge shoutout shout out kudos
    everyone making made getting got nice well done love loved appreciate appreciated big
    pulling together over last week today yesterday new launch campaign patient patients
    her his him had has have not no but if than then there here can will would could should
    took taking after while because about into out up down during every each any best
    wishes good fantastic brilliant excellent superb stellar incredible props cheers
    congrats congratulations welcome happy safe travels shipped email emails copy page
    deck slide slides line subject open rate video webinar booth demo portal site landing
    catch turnaround launch data import review legal approved by how why which where
    handling handled call calls caller said says told tells keep keeps kept way ways than
    more most less fewer better faster one two three first second our your their thing
    things time times day days month year quarter team's everyone's someone something
    anyone people folks guys crew hero rockstar legend on off as an or do did does doing
    make get give gave given going gone come came see saw seen know knew feel felt""".split()  # noqa: SIM905
)
# Common words of the other covered languages written in plain ASCII (Dutch, German,
# French, Spanish, Italian, Portuguese, Polish): one of them sends a text to the model.
_FOREIGN = frozenset(
    """het een van ist und der das nicht auf ein eine sehr les est pour avec dans une
    sont tres los las por para muy una che gli della sono molto uma nao muito
    jest sie nie oraz bardzo dla oder aber wir ihr zijn niet wel ook heel voor naar""".split()  # noqa: SIM905
)
# Words of one covered language that an English sentence borrows when its writer switches
# language mid-sentence ("danke for calling Frau Huber about her Muskelschmerzen"): one of
# them has that language's pack read the text too. Not words English also has ("die",
# "per", "con", "met", "pan"), nor words another covered language shares ("paciente",
# "está", "desde", "mais"), which would have the wrong pack read the text.
_BORROWED = {
    "de": "danke vielen bitte frau herrn kundin patientin seit nicht sehr und auch schon ist "
    "einfach wirklich oder aber",
    "fr": "merci madame monsieur mademoiselle avec depuis très elle aussi beaucoup pour dans "
    "sont trop vraiment",
    "es": "gracias señora señor muchas muy pero también los las",
    "it": "grazie signora signore molto dopo anche sono paziente che gli",
    "pt": "obrigado obrigada senhora senhor muito depois também não você uma",
    "nl": "bedankt dankjewel mevrouw meneer niet sinds ook het een zijn voor naar",
    "pl": "dzięki dziękuję pani bardzo się także pacjentka oraz dla",
}
_BORROWED_WORDS = {lang: frozenset(words.split()) for lang, words in _BORROWED.items()}
# The words most texts have (rule patterns are not worth ruling out by one of these).
COMMON_WORDS = _ENGLISH | _FOREIGN
_WORDS = re.compile(r"[^\W\d_]+")
_OTHER_LETTERS = re.compile(r"[^\W\d_A-Za-z]")  # a letter that is not English's
_SENTENCES = re.compile("[^.!?;\n\u3002\uff01\uff1f]+")  # and the full-width stops
_MIN_LETTERS = 12  # shorter sentences say too little to tell languages apart
_SURE = 0.95  # how sure the model must be before a sentence counts as uncovered
_CJK = frozenset({"ja", "zh"})  # kanji-only text is easily taken for the other one


@dataclass(frozen=True)
class Languages:
    found: frozenset[str]  # covered languages seen (English always checked besides)
    unknown: str | None  # a language no pack covers, seen with confidence


ENGLISH = Languages(frozenset({"en"}), None)


def looks_english(text: str) -> bool:
    """Only English letters, and enough common English words: no model needed."""
    if not text.isascii() and _OTHER_LETTERS.search(text):
        return False
    words = _WORDS.findall(text.lower())
    if len(words) < 3:
        return True
    english = sum(map(_ENGLISH.__contains__, words))
    foreign = sum(map(_FOREIGN.__contains__, words))
    return english / len(words) >= 0.25 and foreign * 3 <= english


def detect(text: str, covered: frozenset[str], deadline: float = math.inf) -> Languages:
    """The covered languages of `text`'s sentences, and one it has that none covers
    (TimeoutError once the `time.monotonic()` deadline has passed; a sentence said again is
    read once)."""
    sentences = _SENTENCES.findall(text)
    borrowed = _borrowed(text, covered)
    if len(sentences) <= 1 and looks_english(text):
        return Languages(frozenset({"en"} | borrowed), None) if borrowed else ENGLISH
    found: set[str] = {"en", *borrowed}
    unknown: str | None = None
    for n, sentence in enumerate(dict.fromkeys(sentences)):
        if n % 16 == 15 and time.monotonic() >= deadline:
            raise TimeoutError("out of time")
        letters = sum(map(str.isalpha, sentence))
        if letters < _MIN_LETTERS and not _has_cjk(sentence):
            continue
        if looks_english(sentence):
            continue
        best, confidence = _model().classify(sentence)
        if best in covered:
            found.add(best)
        elif confidence >= _SURE and letters >= 2 * _MIN_LETTERS:
            unknown = unknown or best
        else:
            # Unsure: the likeliest covered languages read it (at least the likeliest one,
            # when the model's first three are languages no pack covers: a short Polish
            # sentence may look Czech or Slovak to it).
            ranked: list[tuple[str, float]] = _model().rank(sentence)
            likely = [lang for lang, _ in ranked if lang in covered]
            found.update([lang for lang, _ in ranked[:3] if lang in covered] or likely[:1])
    if found & _CJK:
        found |= _CJK & covered
    return Languages(frozenset(found & (covered | {"en"})), unknown)


def _borrowed(text: str, covered: frozenset[str]) -> set[str]:
    """The covered languages whose words an otherwise English text borrows."""
    words = set(_WORDS.findall(text.lower()))
    return {
        lang
        for lang, known in _BORROWED_WORDS.items()
        if lang in covered and not known.isdisjoint(words)
    }


def _has_cjk(text: str) -> bool:
    return any("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in text)


@cache
def _model() -> Any:
    from py3langid.langid import (  # type: ignore[import-untyped]
        MODEL_FILE,
        LanguageIdentifier,
    )

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def warm() -> None:
    """Load the model now (rule sets do, so the first check does not pay for it)."""
    _model()


def unknown(code: str, text: str, outcome: Outcome) -> Finding:
    """The finding of a text in language `code`, which no pack covers: a person reads it."""
    return Finding(
        UNKNOWN_LANGUAGE,
        UNKNOWN_LANGUAGE,
        outcome,
        0,
        len(text),
        f"This text is in a language Plaudit's rules do not cover ({code}), so they could "
        "not check it; a compliance reviewer reads it before anything is posted.",
        match=text,  # the whole text, as every finding quotes what it spans
    )

"""A second opinion beside the rules: a linear model that holds, for a compliance reviewer,
a text that reads like a category no rule found in it.

Rules find what their authors anticipated; people write violations in words nobody listed
(an adverse event in lay terms, a patient named by age and town). One logistic regression
per category, trained on Plaudit's labelled corpora (`scripts/train_second_opinion.py`),
scores the text; a score at or above the category's threshold, chosen for precision (a
compliant kudos held by mistake costs a reviewer's time and a giver's patience), holds it.
The model never blocks and never repeats a category the rules found: it is a reason for a
person to look, not a verdict.

Features: the text as the rules read it (markup as plain words, evasions undone, case
folded) with every digit read as 0, split into words (at most 32 characters a piece, so a
run of letters without spaces, as Japanese and Chinese are written, is read in pieces) and
single signs. Each word, each pair of neighbouring words and each 3 to 5 character sequence
of a word between spaces is hashed with CRC-32 (stable across processes and machines, as
`hash()` is not) into 2**bits buckets. A category's score is the logistic of its bias plus
its weights summed over the text's features, divided by the square root of their number,
so that a long text is not held for its length alone.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import math
import re
import threading
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from compliance_rules import drug_names, evasion
from compliance_rules.drug_names import DrugNames
from compliance_rules.folding import fold
from compliance_rules.model import CATEGORIES, Finding, Outcome, RuleError
from compliance_rules.normalise import normalise

WEIGHTS = Path(__file__).with_name("second_opinion.json.gz")
FORMAT = 1
PACK = "second-opinion"
_TOKENS = re.compile(r"\w{1,32}|[^\w\s]")
_ZEROS = str.maketrans("123456789", "000000000")
# CRC-32 starting values that keep a word, a pair of words and a letter sequence apart.
_WORD, _PAIR, _LETTERS = 1, 2, 3
_CACHED_WORDS = 1 << 16  # words whose weights are remembered; most kudos reuse the same few
_EVERY = 256  # words read between looks at the clock
_PLAIN = {
    "superlative_claim": "a superlative claim",
    "unsubstantiated_comparative": "a comparison without evidence",
    "efficacy_overstatement": "an overstated claim of how well a medicine works",
    "safety_minimization": "playing down a medicine's risks",
    "cure_guarantee": "a promise of a cure",
    "off_label": "promotion of a use the label does not cover",
    "phi_patient_identifier": "details that could identify a patient",
    "adverse_event_mention": "a possible adverse event",
    "competitor_disparagement": "disparaging a competitor",
    "forward_looking_financial": "forward-looking or non-public financial information",
    "hcp_inducement": "an inducement to a health-care professional",
    "offensive_language": "offensive language",
}


@dataclass(frozen=True)
class Settings:
    """How texts become features; recorded with the weights, which hold only for them."""

    bits: int = 20
    shortest: int = 3  # letters in the shortest and longest letter sequence
    longest: int = 5
    # A text is taken to have at least this many features when its sum is scaled: the few
    # words of "you're the best" are not evidence enough to hold a kudos on.
    floor: int = 0
    # Every medicine's name read as one word (`drug_names`): what is learned of one product
    # holds for all, and for a registry the model was not trained with.
    drug_names: bool = False

    def __post_init__(self) -> None:
        if not (8 <= self.bits <= 30 and 1 <= self.shortest <= self.longest <= 8):
            raise ValueError(f"feature settings out of range: {self}")
        if not 0 <= self.floor <= 10_000:
            raise ValueError(f"feature settings out of range: {self}")

    def scale(self, count: int) -> float:
        """What the weights of a text of `count` features are multiplied by, summed."""
        return 1 / math.sqrt(max(count, self.floor)) if count else 0.0


@dataclass(frozen=True)
class Category:
    name: str
    bias: float
    threshold: float  # a score at or above it holds the text
    weights: dict[int, float]  # by bucket; buckets not listed weigh nothing


_REPEATS_FROM = 40  # words: shorter texts say too little to call repetitive
_FEWEST_DISTINCT = 0.5  # every corpus text of 40 words or more has over 0.6 distinct


def reading(text: str, deadline: float = math.inf) -> str:
    """`text` as the rules read it (see `engine`): markup as plain words, evasions undone,
    case folded."""
    norm = normalise(text)
    unevaded = evasion.unevade(norm, deadline)
    return fold((unevaded or norm).text)


def tokens(read: str) -> list[str]:
    """The words and signs of a reading, every digit as 0: a number's shape, not its value,
    is what tells a phone number, a date or a dose."""
    return _TOKENS.findall(read.translate(_ZEROS))


def _utf8(text: str) -> bytes:
    """UTF-8, a lone surrogate (which a hostile text may hold) encoded as it stands."""
    return text.encode() if text.isascii() else text.encode("utf-8", "surrogatepass")


def word_features(word: str, settings: Settings) -> list[int]:
    """The buckets of a word and of its letter sequences (the word between spaces)."""
    mask = (1 << settings.bits) - 1
    padded = f" {word} "
    encode = str.encode if padded.isascii() else _utf8
    return [zlib.crc32(_utf8(word), _WORD) & mask] + [
        zlib.crc32(encode(padded[at : at + size]), _LETTERS) & mask
        for size in range(settings.shortest, settings.longest + 1)
        for at in range(len(padded) - size + 1)
    ]


def pair_feature(first: str, second: str, settings: Settings) -> int:
    """The bucket of two neighbouring words (`_Word.pair` hashes the first half once)."""
    return zlib.crc32(_utf8(f"{first} {second}"), _PAIR) & ((1 << settings.bits) - 1)


def words_of(read: str, settings: Settings, names: DrugNames | None = None) -> list[str]:
    """The words the model reads in a reading: `tokens`, each medicine's name as one word
    when the settings say so (the names of `names`, or of the shipped registry)."""
    words = tokens(read)
    if settings.drug_names:
        words = (names or drug_names.shipped()).read(words)
    return words


def features(read: str, settings: Settings, names: DrugNames | None = None) -> list[int]:
    """Every feature of a text's reading (`reading`), as buckets, repeats kept: what the
    model is trained on, and what `SecondOpinion.scores` sums the weights of."""
    words = words_of(read, settings, names)
    found = [b for word in words for b in word_features(word, settings)]
    found.extend(pair_feature(a, b, settings) for a, b in itertools.pairwise(words))
    return found


def fingerprint(rows: Iterable[tuple[str, Iterable[str]]]) -> str:
    """SHA-256 of training texts and their labels, in order: weights trained on other data
    than the corpora hold now are stale."""
    digest = hashlib.sha256()
    for text, labels in rows:
        line = json.dumps([text, sorted(labels)], ensure_ascii=False)
        digest.update(line.encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()


# A bucket's weights, one for each category, packed into one integer: category k's weight
# in units of 2**-24, lifted by 2**32 so that it is never negative, in bits 80k to 80k + 79.
# A text's weights are then summed with one integer addition a feature, however many the
# categories, and exactly: the sum does not depend on the order of the additions.
_LANE = 80
_LANE_MASK = (1 << _LANE) - 1
_POINT = 1 << 24
_LIFT = 1 << 32
HEAVIEST = 64.0  # no weight may reach this: its lane could spill into the next


def _pack(weights: Sequence[float]) -> int:
    return sum((round(w * _POINT) + _LIFT) << (_LANE * k) for k, w in enumerate(weights))


def _unpack(total: int, added: int, width: int) -> list[float]:
    """The sums of `added` packed integers totalling `total`, by category."""
    lift = added * _LIFT
    return [(((total >> (_LANE * k)) & _LANE_MASK) - lift) / _POINT for k in range(width)]


class _Word(NamedTuple):
    size: int  # how many features the word has
    packed: int  # the weights of those features, packed and summed
    added: int  # how many packed weights that is
    raw: bytes  # the word in UTF-8
    pair: int  # CRC-32 of the word and a space, from `_PAIR`: a pair's hash goes on from it


class SecondOpinion:
    """Scores of a text for the categories the model was trained on, and its findings."""

    def __init__(self, settings: Settings, categories: Sequence[Category], trained_on: str):
        self.settings = settings
        self.categories = tuple(categories)
        self.fingerprint = trained_on
        self._mask = (1 << settings.bits) - 1
        weighed = sorted({b for c in self.categories for b in c.weights})
        self._table = {b: _pack([c.weights.get(b, 0.0) for c in self.categories]) for b in weighed}
        self._biases = [c.bias for c in self.categories]
        # What each word weighs, remembered: its letter sequences are most of the work, and
        # the same words come again and again.
        self._words: dict[str, _Word] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> SecondOpinion:
        """The weights at `path` (default: those shipped with Plaudit); RuleError when the
        file is missing, unreadable or not a weights file of this version."""
        path = path or WEIGHTS
        try:
            with gzip.open(path, "rt", encoding="utf-8") as stream:
                raw = json.load(stream)
            return cls._from(raw)
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RuleError(f"{path}: second-opinion weights cannot be read: {exc}") from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RuleError(f"{path}: not a second-opinion weights file: {exc!r}") from exc

    @classmethod
    def _from(cls, raw: dict[str, Any]) -> SecondOpinion:
        if raw["format"] != FORMAT:
            raise ValueError(f"format {raw['format']!r}, expected {FORMAT}")
        settings = Settings(**raw["settings"])
        categories = [_category(name, entry, settings) for name, entry in raw["categories"].items()]
        if not categories:
            raise ValueError("no categories")
        return cls(settings, categories, str(raw["fingerprint"]))

    def scores(
        self,
        text: str,
        read: str | None = None,
        deadline: float = math.inf,
        names: DrugNames | None = None,
    ) -> dict[str, float]:
        """Each category's score (0 to 1) for `text`, or for its reading when given, the
        medicines of `names` (default: the shipped registry's) known by name. TimeoutError
        once the `time.monotonic()` deadline has passed (every 256 words)."""
        read = reading(text, deadline) if read is None else read
        words = words_of(read, self.settings, names)
        read_words: list[_Word] = []
        for start in range(0, len(words), _EVERY):
            if start and time.monotonic() >= deadline:
                raise TimeoutError("out of time")
            read_words += map(self._word, words[start : start + _EVERY])
        total = sum(w.packed for w in read_words)
        added = sum(w.added for w in read_words)
        weighed = self._table.get
        mask = self._mask
        for first, second in itertools.pairwise(read_words):
            pair = weighed(zlib.crc32(second.raw, first.pair) & mask)
            if pair is not None:
                total += pair
                added += 1
        count = sum(w.size for w in read_words) + max(len(words) - 1, 0)
        scale = self.settings.scale(count)
        sums = _unpack(total, added, len(self.categories))
        return {
            c.name: _logistic(bias + total * scale)
            for c, bias, total in zip(self.categories, self._biases, sums, strict=True)
        }

    def _word(self, word: str) -> _Word:
        known = self._words.get(word)
        if known is None:
            found = word_features(word, self.settings)
            packed = [w for w in map(self._table.get, found) if w is not None]
            raw = _utf8(word)
            known = _Word(len(found), sum(packed), len(packed), raw, zlib.crc32(raw + b" ", _PAIR))
            if len(self._words) >= _CACHED_WORDS:
                self._words = {}  # (a new dict: a scan in another thread keeps the old one)
            self._words[word] = known
        return known

    def findings(
        self,
        text: str,
        found: frozenset[str],
        read: str | None = None,
        deadline: float = math.inf,
        names: DrugNames | None = None,
    ) -> list[Finding]:
        """A finding to hold `text` for each category it scores high on that is not among
        the categories the rules `found` in it."""
        if all(c.name in found for c in self.categories):
            return []
        if read is None:
            read = reading(text, deadline)
        if _repetitive(tokens(read)):
            return []
        scores = self.scores(text, read, deadline, names)
        return [
            _finding(text, c.name, scores[c.name])
            for c in self.categories
            if c.name not in found and scores[c.name] >= c.threshold
        ]


def _repetitive(words: list[str]) -> bool:
    """A long text made of a few words said over and over ("step0 step1 ...", a pasted
    log): unlike anything the model was trained on, and its score would grow with every
    repeat, so the model abstains and the rules alone decide."""
    return len(words) >= _REPEATS_FROM and len(set(words)) < len(words) * _FEWEST_DISTINCT


def _category(name: str, entry: dict[str, Any], settings: Settings) -> Category:
    """One category of a weights file, checked: ValueError when it cannot be used."""
    buckets, weights = entry["buckets"], entry["weights"]
    bias, threshold = float(entry["bias"]), float(entry["threshold"])
    if name not in CATEGORIES or len(buckets) != len(weights):
        raise ValueError(f"{name!r}: an unknown category, or as many buckets as weights")
    if not (0.0 < threshold < 1.0 and math.isfinite(bias)):
        raise ValueError(f"{name!r}: threshold {threshold} or bias {bias} out of range")
    if not all(isinstance(b, int) and 0 <= b < 1 << settings.bits for b in buckets):
        raise ValueError(f"{name!r}: a bucket out of range")
    if not all(abs(float(w)) < HEAVIEST for w in weights):
        raise ValueError(f"{name!r}: a weight out of range")
    return Category(name, bias, threshold, dict(zip(buckets, map(float, weights), strict=True)))


def _finding(text: str, category: str, score: float) -> Finding:
    return Finding(
        f"{PACK}.{category}",
        category,
        Outcome.HOLD,
        0,
        len(text),
        f"Reads like {_PLAIN[category]} to a model trained on labelled examples (score "
        f"{score:.2f}); a compliance reviewer will look.",
        match=text,
        pack=PACK,
    )


def _logistic(x: float) -> float:
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    z = math.exp(x)
    return z / (1 + z)


_lock = threading.Lock()
_shipped: list[SecondOpinion] = []


def shipped() -> SecondOpinion:
    """The weights shipped with Plaudit, loaded once (by the first caller; others wait)."""
    if not _shipped:
        with _lock:
            if not _shipped:
                _shipped.append(SecondOpinion.load())
    return _shipped[0]

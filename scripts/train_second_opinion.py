"""Train the compliance gate's second opinion (`compliance_rules/second_opinion.py`) and
write its weights to `compliance_rules/second_opinion.json.gz`.

Training data is Plaudit's own labelled corpora only: the whole of twelve (`WHOLE`), and the
even-numbered lines (from 0) of the four whose odd lines are kept for scoring (`HALVED`).
Every medicine's name is read as one word (`Settings.drug_names`, `drug_names.py`).
One logistic regression per category over the features of `second_opinion.features`, with
an elastic-net penalty so that most weights are exactly zero (the file stays small), fitted
by accelerated proximal gradient descent for a fixed number of steps. Each category's
threshold is chosen on scores from five-fold cross-validation: the lowest at which the
model's holds stay `PRECISION` precise and take few compliant texts (`ALLOWED`: 1 % for
adverse events and 0.5 % for patient identifiers, whose misses cost most, 0.05 % for the others;
on texts written apart from the training data the model holds several times the share it
holds in cross-validation). A category with no such threshold is left to the rules.

Deterministic: the same corpora and code give the same file, byte for byte, on one machine
(another CPU's floating-point functions may move a last digit).

    .venv/bin/python scripts/train_second_opinion.py [--output PATH]
(numpy is needed: `pip install -e '.[train]'`.)
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compliance_rules.model import CATEGORIES
from compliance_rules.second_opinion import (
    FORMAT,
    WEIGHTS,
    Settings,
    features,
    fingerprint,
    reading,
)

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT / "tests" / "corpus"
WHOLE = (
    "kudos_labelled.jsonl",
    "recognitions.jsonl",
    "dev_recall.jsonl",
    "dev_safety.jsonl",
    "dev_languages.jsonl",
    "dev_recognitions.jsonl",
    # Written apart from the rules as training data, in English, five European languages,
    # Japanese, Chinese, Dutch and Polish, with evasions (tests/corpus/TRAIN.md).
    "train_en_safety.jsonl",
    "train_en_claims.jsonl",
    "train_eu.jsonl",
    "train_world_evasion.jsonl",
    "train_en_safety2.jsonl",
    "train_world_safety2.jsonl",
    "train_en_claims2.jsonl",
    "train_world_claims2.jsonl",
    "train_en_long3.jsonl",
)
# The odd lines of these are for scoring only.
HALVED = ("dev_wild.jsonl", "dev_field.jsonl", "dev_pulse.jsonl", "dev_shift.jsonl")
SEED = 20240611
FOLDS = 5
L1 = 5e-6  # sparsity: most buckets weigh nothing
L2 = 1e-6
SMALLEST = 0.05  # a weight smaller than this is dropped (the file stays small)
FLOOR = 100  # features a text is taken to have at least (`Settings.floor`): about 7 words
FEWEST_TEXTS = 3  # a bucket in fewer training texts gets no weight: it is a text's own
STEPS = 400
PRECISION = 0.9  # of the model's holds of a category, in cross-validation
# The share of compliant texts each category's holds may take, in cross-validation.
ALLOWED = {"adverse_event_mention": 0.01, "phi_patient_identifier": 0.005}
ALLOWED_OTHERS = 0.0005
LOWEST = 0.5  # no threshold below an even chance
# Superlatives are the everyday words of praise ("you're the best"): only a claim about a
# product is one, which the rules read clause by clause and a bag of words cannot.
LEFT_TO_THE_RULES = frozenset({"superlative_claim"})
FEWEST_CAUGHT = 3  # texts of its category a threshold must catch in cross-validation

Rows = list[tuple[str, frozenset[str]]]
Floats = NDArray[np.float64]


def training_rows(corpora: Path = CORPORA) -> Rows:
    """The labelled texts the model learns from, in a fixed order."""
    rows: Rows = []
    for name in (*WHOLE, *HALVED):
        lines = (corpora / name).read_text(encoding="utf-8").splitlines()
        kept = lines[::2] if name in HALVED else lines
        for line in kept:
            if line.strip():
                item = json.loads(line)
                rows.append((str(item["text"]), frozenset(item["expect"]) - {"none"}))
    return rows


@dataclass(frozen=True)
class Design:
    """The texts as a sparse matrix: entry (row, column, value), in row order, a column for
    each bucket seen; a text's value for a bucket is its count times `Settings.scale`."""

    rows: NDArray[np.int64]
    columns: NDArray[np.int64]
    values: Floats
    buckets: NDArray[np.int64]  # the bucket of each column
    height: int

    @classmethod
    def of(cls, texts: list[str], settings: Settings) -> Design:
        rows: list[int] = []
        buckets: list[int] = []
        values: list[float] = []
        for i, text in enumerate(texts):
            found = features(reading(text), settings)
            counts = sorted(Counter(found).items())
            scale = settings.scale(len(found))
            rows += [i] * len(counts)
            buckets += [b for b, _ in counts]
            values += [n * scale for _, n in counts]
        unique, columns = np.unique(np.array(buckets, dtype=np.int64), return_inverse=True)
        every = cls(np.array(rows, dtype=np.int64), columns, np.array(values), unique, len(texts))
        return every.common(FEWEST_TEXTS)

    def common(self, fewest: int) -> Design:
        """Only the columns of buckets found in at least `fewest` texts, renumbered."""
        keep = np.bincount(self.columns, minlength=len(self.buckets)) >= fewest
        number = np.cumsum(keep) - 1
        entries = keep[self.columns]
        return Design(
            self.rows[entries],
            number[self.columns[entries]],
            self.values[entries],
            self.buckets[keep],
            self.height,
        )

    def times(self, weights: Floats) -> Floats:
        """(X @ weights.T).T, for weights of shape (categories, columns)."""
        return np.stack(
            [np.bincount(self.rows, self.values * w[self.columns], self.height) for w in weights]
        )

    def transposed_times(self, residuals: Floats) -> Floats:
        """(X.T @ residuals.T).T, for residuals of shape (categories, rows)."""
        width = len(self.buckets)
        return np.stack(
            [np.bincount(self.columns, self.values * r[self.rows], width) for r in residuals]
        )

    def subset(self, keep: NDArray[np.bool_]) -> Design:
        """The rows where `keep` holds, renumbered (the columns stay)."""
        number = np.cumsum(keep) - 1
        entries = keep[self.rows]
        return Design(
            number[self.rows[entries]],
            self.columns[entries],
            self.values[entries],
            self.buckets,
            int(keep.sum()),
        )


def fit(design: Design, labels: Floats) -> tuple[Floats, Floats]:
    """Weights (categories, columns) and biases minimising each category's mean log loss
    over `labels` (categories, rows) plus the elastic-net penalty: FISTA, its momentum
    restarted for a category whenever it points uphill, for a fixed number of steps."""
    step = 1 / (0.25 * _largest_eigenvalue(design) / design.height + L2)
    weights = np.zeros((len(labels), len(design.buckets)))
    biases = np.zeros(len(labels))
    ahead_w, ahead_b = weights, biases
    momentum = np.ones(len(labels))
    for _ in range(STEPS):
        margins = design.times(ahead_w) + ahead_b[:, None]
        residuals = (1 / (1 + np.exp(-margins)) - labels) / design.height
        moved = ahead_w - step * (design.transposed_times(residuals) + L2 * ahead_w)
        new_w = np.sign(moved) * np.maximum(np.abs(moved) - step * L1, 0.0)
        new_b = ahead_b - step * residuals.sum(axis=1)
        uphill = ((ahead_w - new_w) * (new_w - weights)).sum(axis=1) + (ahead_b - new_b) * (
            new_b - biases
        ) > 0
        momentum[uphill] = 1.0
        following = (1 + np.sqrt(1 + 4 * momentum**2)) / 2
        push = ((momentum - 1) / following)[:, None]
        ahead_w = new_w + push * (new_w - weights)
        ahead_b = new_b + push[:, 0] * (new_b - biases)
        weights, biases, momentum = new_w, new_b, following
    weights[np.abs(weights) < SMALLEST] = 0.0
    return weights, biases


def _largest_eigenvalue(design: Design) -> float:
    """Of [X 1].T @ [X 1] (the bias a column of ones), by power iteration from a fixed
    start, with a margin: the step of `fit` must not outrun the loss's curvature."""
    vector = np.ones(len(design.buckets) + 1)
    value = 1.0
    for _ in range(50):
        image = design.times(vector[None, :-1])[0] + vector[-1]
        back = np.r_[design.transposed_times(image[None, :])[0], image.sum()]
        value = float(np.linalg.norm(back))
        vector = back / value
    return 1.1 * value


def scores(design: Design, weights: Floats, biases: Floats) -> Floats:
    """Each category's score (categories, rows)."""
    return 1 / (1 + np.exp(-(design.times(weights) + biases[:, None])))


def cross_validated(design: Design, labels: Floats) -> Floats:
    """Each row's scores (categories, rows) from a model fitted without its fold."""
    fold_of = np.random.default_rng(SEED).permutation(design.height) % FOLDS
    out = np.zeros(labels.shape)
    for fold in range(FOLDS):
        held = fold_of == fold
        weights, biases = fit(design.subset(~held), labels[:, ~held])
        out[:, held] = scores(design.subset(held), weights, biases)
    return out


def threshold(
    scored: Floats, positive: NDArray[np.bool_], compliant: NDArray[np.bool_], allowed: int
) -> float | None:
    """The lowest score (at least `LOWEST`) at which holding the texts scored that high
    stays `PRECISION` precise and holds at most `allowed` `compliant` texts; None when no
    such score holds at least `FEWEST_CAUGHT` texts of the category."""
    order = np.argsort(-scored, kind="stable")
    ranked = scored[order]
    hits = np.cumsum(positive[order])
    wrong = np.cumsum(compliant[order])
    held = np.arange(1, len(ranked) + 1)
    # A cut between equal scores is no cut: only the last of a run of equal scores counts.
    last = np.r_[ranked[1:] != ranked[:-1], True]
    good = last & (ranked >= LOWEST) & (hits >= PRECISION * held) & (wrong <= allowed)
    good &= hits >= FEWEST_CAUGHT
    return float(ranked[good].min()) if good.any() else None


def chosen(
    design: Design, labels: Floats, held: Floats
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Each category's threshold (see `threshold`) on the cross-validated scores `held`,
    for the categories that have one; and what it holds there, as figures to record."""
    compliant = labels.sum(axis=0) == 0
    thresholds: dict[str, float] = {}
    figures: dict[str, dict[str, float]] = {}
    for k, category in enumerate(CATEGORIES):
        if category in LEFT_TO_THE_RULES:
            continue
        positive = labels[k] > 0
        allowed = round(ALLOWED.get(category, ALLOWED_OTHERS) * compliant.sum())
        cut = threshold(held[k], positive, compliant, allowed)
        if cut is None:
            continue
        holds = held[k] >= cut
        thresholds[category] = cut
        figures[category] = {
            "precision": round(float((holds & positive).sum() / holds.sum()), 4),
            "recall": round(float((holds & positive).sum() / positive.sum()), 4),
            "compliant_held": int((holds & compliant).sum()),
        }
    return thresholds, figures


def weights_file(
    rows: Rows, settings: Settings, design: Design, thresholds: dict[str, float]
) -> dict[str, Any]:
    """The weights fitted on every row, for the categories with a threshold, as written."""
    wanted = [k for k, c in enumerate(CATEGORIES) if c in thresholds]
    labels = np.array([[CATEGORIES[k] in found for _, found in rows] for k in wanted], float)
    weights, biases = fit(design, labels)
    categories = {}
    for row, k in enumerate(wanted):
        kept = np.flatnonzero(weights[row])
        categories[CATEGORIES[k]] = {
            "bias": round(float(biases[row]), 6),
            "threshold": round(thresholds[CATEGORIES[k]], 6),
            "buckets": [int(b) for b in design.buckets[kept]],
            "weights": [round(float(w), 5) for w in weights[row, kept]],
        }
    return {
        "format": FORMAT,
        "fingerprint": fingerprint(rows),
        "settings": dataclasses.asdict(settings),
        "categories": categories,
        "training": {
            "texts": len(rows),
            "l1": L1,
            "l2": L2,
            "steps": STEPS,
            "smallest_weight": SMALLEST,
            "fewest_texts": FEWEST_TEXTS,
            "folds": FOLDS,
            "seed": SEED,
            "precision": PRECISION,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=WEIGHTS)
    args = parser.parse_args(argv)
    settings = Settings(floor=FLOOR, drug_names=True)
    rows = training_rows()
    design = Design.of([text for text, _ in rows], settings)
    labels = np.array([[c in found for _, found in rows] for c in CATEGORIES], float)
    thresholds, figures = chosen(design, labels, cross_validated(design, labels))
    written = weights_file(rows, settings, design, thresholds)
    written["cross_validation"] = figures
    data = json.dumps(written, sort_keys=True, separators=(",", ":")).encode("utf-8")
    with open(args.output, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as stream:
        stream.write(data)
    for category, found in figures.items():
        kept = len(written["categories"][category]["buckets"])
        print(f"{category:28} threshold {thresholds[category]:.3f} {found} weights {kept}")
    print(f"{len(rows)} texts, fingerprint {written['fingerprint'][:12]}, wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

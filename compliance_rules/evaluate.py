"""Score the rules against a labelled corpus: per-category precision, recall and F1."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from compliance_rules.engine import RuleSet, check
from compliance_rules.model import CATEGORIES, RuleError


@dataclass(frozen=True)
class Score:
    category: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Report:
    scores: tuple[Score, ...]
    compliant: int
    compliant_flagged: int
    noncompliant: int
    noncompliant_missed: int
    mistakes: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # text, expected, got

    @property
    def macro_f1(self) -> float:
        present = [s for s in self.scores if s.tp + s.fn > 0]
        return sum(s.f1 for s in present) / len(present) if present else 0.0

    @property
    def flagged_share(self) -> float:
        return self.compliant_flagged / self.compliant if self.compliant else 0.0

    @property
    def missed_share(self) -> float:
        return self.noncompliant_missed / self.noncompliant if self.noncompliant else 0.0

    def score(self, category: str) -> Score:
        return next(s for s in self.scores if s.category == category)

    def lines(self) -> list[str]:
        out = [f"{'category':30} {'prec':>6} {'recall':>6} {'F1':>6} {'n':>4}"]
        for s in self.scores:
            out.append(
                f"{s.category:30} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.tp + s.fn:4}"
            )
        out.append(f"macro F1 {self.macro_f1:.3f}")
        out.append(
            f"compliant messages flagged: {self.compliant_flagged}/{self.compliant} "
            f"({self.flagged_share:.1%})"
        )
        out.append(
            f"non-compliant messages missed: {self.noncompliant_missed}/{self.noncompliant} "
            f"({self.missed_share:.1%})"
        )
        return out


def read_corpus(path: Path) -> list[tuple[str, frozenset[str]]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text, expect = item["text"], item["expect"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise RuleError(f'{path}:{number}: expected {{"text": ..., "expect": [...]}}') from exc
        labels = frozenset(expect) - {"none"}
        unknown = labels - set(CATEGORIES)
        if unknown:
            raise RuleError(f"{path}:{number}: unknown categories {sorted(unknown)}")
        rows.append((str(text), labels))
    return rows


def evaluate(rows: Iterable[tuple[str, frozenset[str]]], rules: RuleSet | None = None) -> Report:
    counts = {c: [0, 0, 0] for c in CATEGORIES}
    compliant = flagged = noncompliant = missed = 0
    mistakes = []
    for text, expected in rows:
        got = frozenset(f.category for f in check(text, rules, timeout=30).findings)
        for category in CATEGORIES:
            if category in got and category in expected:
                counts[category][0] += 1
            elif category in got:
                counts[category][1] += 1
            elif category in expected:
                counts[category][2] += 1
        if expected:
            noncompliant += 1
            missed += not got
        else:
            compliant += 1
            flagged += bool(got)
        if got != expected:
            mistakes.append((text, tuple(sorted(expected)), tuple(sorted(got))))
    return Report(
        tuple(Score(c, *counts[c]) for c in CATEGORIES),
        compliant,
        flagged,
        noncompliant,
        missed,
        tuple(mistakes),
    )

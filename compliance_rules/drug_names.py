"""Medicine names read as one word, `_drug_`, by the second opinion.

A model that learns "Cardivex made her dizzy" as a sign of an adverse event learns nothing
about "Lipitor made her dizzy", nor about the products of a company whose registry names
other brands. Read as `_drug_`, every product, competitor and marketed medicine the rule
set knows (the company's registry and `drugs.yml`) is the same word to the model, so what
it learned of one carries over to all, and to a registry it was never trained with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from compliance_rules.folding import fold
from compliance_rules.model import RuleError
from compliance_rules.packs import read_yaml
from compliance_rules.registry import DEFAULT, UNSPACED, Registry, load_registry

DRUGS = Path(__file__).parent / "drugs.yml"
TOKEN = "_drug_"
_WORD = re.compile(r"\w+")
# Letters of an alphabet, so a brand written inside a run of kana or hanzi is a word of its own.
_ALPHABETIC = re.compile(r"[a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+")


@dataclass(frozen=True)
class DrugNames:
    words: frozenset[str]  # folded one-word names, met as a whole word
    runs: tuple[str, ...]  # folded names in kana or CJK, met inside a word

    @classmethod
    def of(cls, names: Iterable[str]) -> DrugNames:
        words: set[str] = set()
        runs: set[str] = set()
        for name in names:
            folded = fold(name.strip())
            if UNSPACED.search(folded):  # kana or CJK: met inside a longer run
                runs.add(folded)
            elif _WORD.fullmatch(folded):
                words.add(folded)
        # The longest first: a name inside another (リピバ in a longer name) waits its turn.
        return cls(frozenset(words), tuple(sorted(runs, key=lambda r: (-len(r), r))))

    def read(self, words: list[str]) -> list[str]:
        """`words` (of a folded reading) with every medicine's name as `TOKEN`."""
        out: list[str] = []
        for word in words:
            if word in self.words:
                out.append(TOKEN)
            elif self.runs and not word.isascii() and any(r in word for r in self.runs):
                out.extend(self._split(word))
            else:
                out.append(word)
        return out

    def named_in(self, folded: str) -> bool:
        """Whether a folded text names any of the medicines."""
        if self.runs and not folded.isascii() and any(r in folded for r in self.runs):
            return True
        words = _WORD.findall(folded)
        if not folded.isascii():
            words += _ALPHABETIC.findall(folded)
        return not self.words.isdisjoint(words)

    def _split(self, word: str) -> list[str]:
        for run in self.runs:
            word = word.replace(run, f" {TOKEN} ")
        return word.split()


@cache
def drug_list(path: Path = DRUGS) -> dict[str, tuple[str, ...]]:
    """`drugs.yml`, read once: its brands, generics and classes."""
    raw = read_yaml(path)
    if not isinstance(raw, dict) or set(raw) - {"brands", "generics", "classes"}:
        raise RuleError(f"{path}: a mapping of brands, generics and classes")
    return {
        key: tuple(str(n) for n in raw.get(key) or []) for key in ("brands", "generics", "classes")
    }


def marketed(path: Path = DRUGS) -> tuple[str, ...]:
    """The brand and generic names of `drugs.yml`."""
    listed = drug_list(path)
    return (*listed["brands"], *listed["generics"])


def of_registry(registry: Registry | None) -> DrugNames:
    """The names a rule set with `registry` knows: its products (every alias), its
    competitors and the marketed medicines."""
    own: list[str] = []
    if registry is not None:
        own = [n for p in registry.products for n in (p.brand, p.generic, *p.aliases)]
        own += registry.competitors
    return DrugNames.of([*own, *marketed()])


@cache
def shipped() -> DrugNames:
    """The names of the example registry (`products.yml`) and `drugs.yml`, the model's
    training data's."""
    return of_registry(load_registry(DEFAULT))

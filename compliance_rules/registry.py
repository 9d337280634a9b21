"""The product registry: brands, generics, labels and the off-label talk around them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance_rules.model import RuleError
from compliance_rules.packs import read_yaml

DEFAULT = Path(__file__).parent / "products.yml"
_KEYS = {"company", "medical_information", "competitors", "products"}
_PRODUCT_KEYS = {"brand", "generic", "aliases", "approved", "off_label"}


# Kana and CJK: scripts written without spaces, where a name runs on into the next word.
UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


# Letters and digits of the Latin script: a Latin name right next to kana or CJK (which
# write no spaces: "把Oncozol用在") is still a word of its own.
_LATIN = "0-9A-Za-z\u00c0-\u024f"


def whole_word(name: str) -> str:
    """A regex of `name` as a word of its own (in kana or CJK, just the name)."""
    escaped = re.escape(name)
    if UNSPACED.search(name):
        return escaped
    return rf"(?<![{_LATIN}]){escaped}(?![{_LATIN}])"


@dataclass(frozen=True)
class Product:
    brand: str
    generic: str
    approved: str
    names: re.Pattern[str]  # brand, generic or an alias, as whole words
    off_label: re.Pattern[str] | None
    aliases: tuple[str, ...] = ()  # the names in other scripts: ソムニラ, Сомнира

    @property
    def lowered_names(self) -> tuple[str, str]:
        return self.brand.lower(), self.generic.lower()


@dataclass(frozen=True)
class Registry:
    company: str
    products: tuple[Product, ...]
    competitors: tuple[str, ...]
    company_numbers: tuple[str, ...]

    def vocabulary(self) -> dict[str, list[str]]:
        """Word lists the packs can use as ${products} and ${competitors}."""
        names = [n for p in self.products for n in (p.brand, p.generic, *p.aliases)]
        return {
            "products": [whole_word(n) for n in names] or [r"(?!x)x"],
            "competitors": [whole_word(c) for c in self.competitors] or [r"(?!x)x"],
        }


def load_registry(path: Path = DEFAULT) -> Registry:
    raw: Any = read_yaml(path)
    if not isinstance(raw, dict):
        raise RuleError(f"{path}: the registry is a mapping")
    unknown = set(raw) - _KEYS
    if unknown:
        raise RuleError(f"{path}: unknown key(s) {sorted(unknown)}")
    products = []
    for entry in raw.get("products") or []:
        if not isinstance(entry, dict) or not {"brand", "generic"} <= set(entry):
            raise RuleError(f"{path}: every product has a brand and a generic name")
        brand = str(entry["brand"])
        extra = set(entry) - _PRODUCT_KEYS
        if extra:
            raise RuleError(f"{path}: product {brand}: unknown key(s) {sorted(extra)}")
        aliases = tuple(str(a) for a in entry.get("aliases") or [])
        every = [brand, str(entry["generic"]), *aliases]
        names = re.compile("|".join(map(whole_word, every)), re.IGNORECASE)
        cues = [str(c) for c in entry.get("off_label") or []]
        try:
            off_label = (
                re.compile("|".join(f"(?:{c})" for c in cues), re.IGNORECASE) if cues else None
            )
        except re.error as exc:
            raise RuleError(f"{path}: product {brand}: bad off_label regex: {exc}") from exc
        products.append(
            Product(
                brand,
                str(entry["generic"]),
                str(entry.get("approved", "")),
                names,
                off_label,
                aliases,
            )
        )
    return Registry(
        company=str(raw.get("company", "")),
        products=tuple(products),
        competitors=tuple(str(c) for c in raw.get("competitors") or []),
        company_numbers=tuple(str(n) for n in raw.get("medical_information") or []),
    )

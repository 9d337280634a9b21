"""The second opinion reads every medicine's name as one word: what it learned of the
example products holds for a company's own and for any marketed medicine."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance_rules import load_rules, pack_path
from compliance_rules.drug_names import TOKEN, DrugNames, marketed, of_registry, shipped
from compliance_rules.folding import fold
from compliance_rules.registry import load_registry
from compliance_rules.second_opinion import reading, tokens
from compliance_rules.second_opinion import shipped as opinion

EVENT = "{} since March and her ankles swelled up like balloons, she could not get her shoes on"


def test_names_are_read_as_one_word_in_any_script() -> None:
    names = DrugNames.of(["Cardivex", "カルディベックス", "Кардивекс", "Lipitor", "blood thinner"])
    read = names.read(tokens(fold("cardivex, КАРДИВЕКС and lipitor; カルディベックスを飲んだ")))
    assert read.count(TOKEN) == 4
    assert "blood" not in names.words  # a name of several words is left to the rules
    assert names.read(["cardivexes", "lipitors"]) == ["cardivexes", "lipitors"]


def test_the_shipped_names_cover_the_registry_and_the_marketed_medicines() -> None:
    names = shipped()
    assert {"cardivex", "valsoride", "veltrix", "lipitor", "atorvastatin"} <= names.words
    assert "ソムニラ" in names.runs
    assert len(names.words) >= len(marketed()) // 2


@pytest.mark.parametrize("name", ["Lipitor", "Zelvoran", "zelvoparin"])
def test_a_company_product_scores_as_the_example_products_do(tmp_path: Path, name: str) -> None:
    registry = tmp_path / "products.yml"
    registry.write_text(
        "company: Other\nproducts:\n  - brand: Zelvoran\n    generic: zelvoparin\n"
        "    approved: adults with gout\n",
        encoding="utf-8",
    )
    theirs = of_registry(load_registry(registry))
    model = opinion()
    assert model.settings.drug_names
    ours = model.scores(EVENT.format("Cardivex"))
    assert model.scores(EVENT.format(name), names=theirs) == ours
    # Without the company's registry, its product is a word like any other.
    unknown = model.scores(EVENT.format("Zelvoran"))
    assert unknown != ours


def test_the_rule_set_hands_its_registrys_names_to_the_model(tmp_path: Path) -> None:
    registry = tmp_path / "products.yml"
    registry.write_text(
        "company: Other\nproducts:\n  - brand: Zelvoran\n    generic: zelvoparin\n",
        encoding="utf-8",
    )
    rules = load_rules(pack_path("default"), registry=registry)
    assert "zelvoran" in rules.drug_names.words
    assert "cardivex" not in rules.drug_names.words  # the example registry is not theirs
    assert TOKEN in rules.drug_names.read(tokens(reading("Zelvoran made him dizzy")))


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("my grandmother passed away last night", False),
        ("she started cardivex last week", True),
        ("有个哺乳期的妈妈在打dermalyn宝宝最近老拉肚子", True),  # a brand inside hanzi
        ("うちの母もイミュネクサ飲んでる", True),  # the registry's katakana
        ("最近ずっと咳が止まらない", False),
    ],
)
def test_a_text_names_a_medicine_in_any_script(text: str, named: bool) -> None:
    assert shipped().named_in(fold(text)) is named

"""The default pack's deeper English rules: lay adverse events, identifiers by their shape,
comparisons with any medicine, and claims, forecasts, payments and language by their shape."""

from __future__ import annotations

from functools import cache

import pytest

from compliance_rules import Outcome, RuleSet, check, language_packs, load_rules, pack_path
from compliance_rules.engine import DRUGS
from compliance_rules.packs import read_yaml


def _categories(text: str) -> set[str]:
    return {f.category for f in check(text, timeout=30).findings}


ADVERSE_EVENTS = [
    # An exposure (a medicine, a person) with a health event in lay words.
    "The caller said her aunt landed in hospital a week after starting Cardivex.",
    "Thanks for staying with the caller whose mum was admitted on Saturday, she is on Glucentra",
    "A pharmacist told me a customer's throat was closing after the first Respiclear puff",
    "my neighbour has been on Hepavir since May and her liver numbers are through the roof",
    "the caller's husband keeled over at dinner, he started Somnira on Monday",
    "her grandpa's lips were all puffy after the Dermalyn shot, she said",
    "the visitor said Oncozol gave her mother the worst cramps",
    "a patient told the nurse her heart kept racing after the Cardivex tablets",
    "the caller's wife has been losing her hair since starting Oncozol",
    "my uncle felt terrible for days after his Neurabel injection, can someone call him?",
    # Special situations: pregnancy, breastfeeding, dose errors, misuse, children, no effect.
    "the caller is expecting and still on Lipiva, she asked what to do",
    "a customer is breastfeeding her newborn and just started Neurabel",
    "her dad doubled up on his Cardivex because he forgot the morning pill",
    "the pharmacy mixed up her pills and she took Somnira instead of her statin",
    "a caller's teenage son took his brother's Adderall to study",
    "her toddler got into grandma's Somnira tablets, thanks for routing the call",
    "the caller's husband says the Glucentra tablets aren't doing anything for his sugars",
    "the patient's wife said the Neurabel shots wore off after two weeks",
    "a caller's husband is hooked on his Somnira and can't sleep without two",
]


@pytest.mark.parametrize("text", ADVERSE_EVENTS)
def test_lay_adverse_events_go_to_drug_safety(text: str) -> None:
    result = check(text, timeout=30)
    assert result.outcome is Outcome.ROUTE_PV, result.findings
    assert "adverse_event_mention" in _categories(text)


IDENTIFIERS = [
    "great chat with Mr. Adeyemi, 74, about the Cardivex savings card",
    "big thanks for sorting out Peter Novak (62) and his copay card",
    "R.K., 58, Fresno is finally enrolled, nice work",
    "call her back on (312) 555-0187 when the card arrives",
    "she asked us to use +44 7700 900123 for the callback",
    "send the card to maria.lopez1958@yahoo.com please",
    "the ward nurse said the patient in bed 7 loved the Oncozol booklet",
    "the patient was seen on 2/3 and enrolled the same afternoon",
    "John Haddad at Riverside General Hospital was discharged today, thanks team",
]


@pytest.mark.parametrize("text", IDENTIFIERS)
def test_patient_identifiers_by_their_shape_are_blocked(text: str) -> None:
    assert "phi_patient_identifier" in _categories(text)
    result = check(text, timeout=30)
    # The identifier's rule blocks; a hold beside it (the second opinion's) outranks a
    # block, and a reviewer then sees both, but the text is never published.
    assert any(
        f.category == "phi_patient_identifier" and f.outcome is Outcome.BLOCK
        for f in result.findings
    )
    assert result.outcome.rank >= Outcome.BLOCK.rank


COMPARISONS = [
    "the new detail aid says Cardivex lowers BP more than amlodipine",
    "reps are telling docs Neurabel works better than Botox for chronic migraine",
    "love the line that Glucentra is easier on the stomach than metformin",
    "the banner: Respiclear is superior to Symbicort",
    "Dermalyn outperforms the IL-17 inhibitors, says the new slide",
    "Oncozol has fewer side effects than standard of care, great talk track",
]


@pytest.mark.parametrize("text", COMPARISONS)
def test_comparisons_with_any_medicine_or_the_standard_of_care(text: str) -> None:
    assert "unsubstantiated_comparative" in _categories(text)


CLAIMS = [
    ("the Cardivex email says it slashes heart attacks by 30%", "efficacy_overstatement"),
    ("the banner says Lipiva means 50% fewer strokes", "efficacy_overstatement"),
    ("my patients swear by Neurabel, says the KOL quote in the deck", "efficacy_overstatement"),
    ("the derm's quote: Dermalyn melts away psoriasis", "efficacy_overstatement"),
    ("the rep says Somnira is gentler than Tylenol", "safety_minimization"),
    ("coach the reps: no need to bring up the boxed warning on Oncozol", "safety_minimization"),
    (
        "the FDA will approve Neurabel for cluster headache in June, trust me",
        "forward_looking_financial",
    ),
    ("we're going to take 35% share next year with Dermalyn", "forward_looking_financial"),
    ("the P&T members got Visa cards so we would get Glucentra on formulary", "hcp_inducement"),
    (
        "a juicier advisory board stipend for the rheumatologists who switched to Immunexa",
        "hcp_inducement",
    ),
    ("s#!t happens, thanks for the quick fix on the deck", "offensive_language"),
    ("that vendor is a pain in the a** but you handled it", "offensive_language"),
]


@pytest.mark.parametrize(("text", "category"), CLAIMS)
def test_claims_forecasts_payments_and_language_by_their_shape(text: str, category: str) -> None:
    assert category in _categories(text)


LOOK_ALIKES = [
    # (a text a new rule flags, a compliant look-alike of it that must pass)
    (
        "the caller said her husband landed in hospital after his Cardivex dose",
        "the hospital portal launch for Glucentra went live on time",
    ),
    (
        "the caller said her husband didn't survive, a month into Oncozol",
        "the Cardivex campaign died a quiet death, on to the next one",
    ),
    (
        "the patient said the Neurabel shots just stopped working",
        "the Neurabel portal just stopped working and you fixed it in an hour",
    ),
    (
        "her son got into her Somnira tablets, thanks for routing the call",
        "thanks for running the AE reporting training for the new hires",
    ),
    (
        "a caller felt awful for days after the Dermalyn shot",
        "I feel awful about missing the Dermalyn kick-off, thanks for covering",
    ),
    (
        "the caller is breastfeeding and started Somnira last week",
        "the breastfeeding section of the Somnira label is now in the FAQ",
    ),
    (
        "Cardivex works better than amlodipine, says the new slide",
        "our Cardivex email open rates beat the Lipitor campaign by a mile",
    ),
    (
        "Neurabel is superior to Botox, the rep told the clinic",
        "the Neurabel team was faster than the Botox launch team at the congress",
    ),
    (
        "call her back on 614-555-0142 when the card arrives",
        "thanks for updating the Medical Information line 1-800-555-0199 on the Cardivex page",
    ),
    (
        "Mr. Okafor, 67, loved the call about his Cardivex savings card",
        "kudos Maria Lopez, 3 new clinics signed this week",
    ),
    (
        "the ward said the patient in room 412 got her Oncozol on time",
        "thanks for booking conference room 412 for the patient services offsite",
    ),
    (
        "the Glucentra banner says it lowers A1c by 2 points",
        "the Lipiva booth cut the badge-scan wait time by 40%",
    ),
    (
        "FDA approval for Dermalyn in teens is coming in March",
        "MLR approval is coming in March for the Cardivex banner",
    ),
    (
        "the extra speaker fee for Dr. Ruiz, our top Neurabel writer",
        "thanks for the speaker honoraria audit, all within FMV",
    ),
    (
        "the vendor was a total ass but you handled it",
        "thanks for the risk assessment on the launch",
    ),
]


@cache
def _rules_only() -> RuleSet:
    return load_rules(pack_path("default"), deferred=language_packs(), second_opinion=False)


@pytest.mark.parametrize(("flagged", "look_alike"), LOOK_ALIKES)
def test_compliant_look_alikes_pass(flagged: str, look_alike: str) -> None:
    """The pack's depth: its rules pass each look-alike. (What the second opinion holds
    among compliant texts is counted by the corpora's flagged shares.)"""
    assert check(flagged, timeout=30).findings, flagged
    result = check(look_alike, _rules_only(), timeout=30)
    assert result.outcome is Outcome.PASS, result.findings


def test_the_drug_list_is_a_real_one() -> None:
    raw = read_yaml(DRUGS)
    assert len(raw["brands"]) >= 150
    assert len(raw["generics"]) >= 150
    assert len(raw["classes"]) >= 30
    names = [n.lower() for n in raw["brands"] + raw["generics"]]
    assert len(names) == len(set(names))

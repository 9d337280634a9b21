"""The always-on safety pack: adverse events and patient identifiers in everyday English,
with no cue word, go to drug safety or are blocked, while look-alikes from office life pass."""

from __future__ import annotations

from functools import cache

import pytest

from compliance_rules import Outcome, RuleSet, check, load_rules, pack_path


@cache
def _safety() -> RuleSet:
    return load_rules(pack_path("safety"))


def _found(text: str) -> dict[str, Outcome]:
    return {f.category: f.outcome for f in check(text, _safety(), timeout=10).findings}


def test_the_pack_is_english_and_covers_both_categories() -> None:
    rules = _safety().rules
    assert {r.category for r in rules} == {"adverse_event_mention", "phi_patient_identifier"}
    assert all(r.language == "en" and r.pack.startswith("safety@") for r in rules)


@pytest.mark.parametrize(
    "text",
    [
        "my nan started the new water tablets and now her ankles are like balloons",
        "thanks for taking the call, the lady said her son's skin went yellow on Hepavir",
        "he fainted in the car park an hour after his Oncozol infusion",
        "a rep heard that a patient on Cardivex was rushed to A&E with chest pains",
        "my aunt's been throwing up every morning since she started the tablets",
        "his hair is coming out in handfuls after the second cycle of Oncozol",
        "my husband's Neurabel jab gave him a fit in the night",
        "a customer said her Glucentra just stopped working after a month",
        "the pharmacy gave my dad 20 mg Cardivex instead of 2 mg",
        "my toddler got into the Somnira on the bedside table",
        "she's eight weeks pregnant and still on Lipiva",
        "the caller has not been right since the Dermalyn injection",
        "her inhaler made no difference, she was wheezing all night",
        "my brother used an expired pen of Dermalyn and the site is swollen",
    ],
)
def test_adverse_events_in_lay_words_go_to_drug_safety(text: str) -> None:
    assert _found(text).get("adverse_event_mention") is Outcome.ROUTE_PV, text


@pytest.mark.parametrize(
    "text",
    [
        "Mrs. Finch (82) in bed 9 would like a call back",
        "Walter Briggs, bed 4 on ward 12, asked about his starter pack",
        "great job with Edith (74, Leeds) and her refill",
        "her insurance ID is BCX 448 219 770, please check the copay",
        "policy number 55-2281-0093 for the prior auth",
        "Discharged 4/02, Maria Santos, thanks for the follow-up",
        "posting a pic of his med chart so we can check the doses",
        "can someone ring Brenda back on 555-0148 about her husband's delivery",
        "thanks for reaching Mr. Osei on 0161 496 0732 so quickly",
        "sent over Priya Nair's lab results from the clinic",
    ],
)
def test_patient_identifiers_without_cue_words_are_blocked(text: str) -> None:
    assert _found(text).get("phi_patient_identifier") is Outcome.BLOCK, text


# Each look-alike beside a twin that is what it looks like: the rule that passes the one
# is the rule that catches the other.
@pytest.mark.parametrize(
    ("look_alike", "twin", "category"),
    [
        (
            "thanks for the AE reporting training for the Cardivex field team",
            "thanks for taking the call, the Cardivex patient had a rash all over",
            "adverse_event_mention",
        ),
        (
            "kudos to the pharmacovigilance team for turning the Oncozol cases round so fast",
            "kudos for the call where a man on Oncozol collapsed at home",
            "adverse_event_mention",
        ),
        (
            "the Glucentra campaign died a quiet death, on to the next one",
            "the caller's father died a week after starting Glucentra",
            "adverse_event_mention",
        ),
        (
            "the hospital portal launch for Lipiva went live today",
            "her dad ended up in hospital two days after starting Lipiva",
            "adverse_event_mention",
        ),
        (
            "I overdosed on slides at the Somnira kickoff, worth it",
            "her teenager overdosed on Somnira last weekend",
            "adverse_event_mention",
        ),
        (
            "I'm allergic to spreadsheets but the Cardivex tracker is brilliant",
            "she broke out in hives the day after her Cardivex dose",
            "adverse_event_mention",
        ),
        (
            "the Dermalyn relaunch was a headache of a project, thanks all",
            "the Dermalyn shot gave her terrible headaches for a week",
            "adverse_event_mention",
        ),
        (
            "we crushed the Q3 target for the Immunexa launch",
            "her son crushed and snorted her pain pills",
            "adverse_event_mention",
        ),
        (
            "thanks for the pregnancy registry slides for the Lipiva training",
            "she found out she was pregnant while taking Lipiva",
            "adverse_event_mention",
        ),
        (
            "the expired promo code on the Somnira banner is fixed",
            "he took an expired box of Somnira from the cupboard",
            "adverse_event_mention",
        ),
        (
            "Cardivex sales went up 12% this quarter, great work",
            "his blood pressure shot up after the switch to Cardivex",
            "adverse_event_mention",
        ),
        (
            "the Cardivex portal stopped working and you fixed it in an hour",
            "her Cardivex tablets just stopped working after a month",
            "adverse_event_mention",
        ),
        (
            "happy birthday Tom Hale, 40 today, from the Oncozol team",
            "Agnes Hale (84, Bristol) asked about her Oncozol delivery",
            "phi_patient_identifier",
        ),
        (
            "room 412 is booked for the Hepavir brand meeting",
            "bed 12 on ward 4, Harold Finch, asked about Hepavir",
            "phi_patient_identifier",
        ),
        (
            "the Medical Information line 1-800-555-0199 is now on every Cardivex page",
            "please call her husband back on 555-0148 about the delivery",
            "phi_patient_identifier",
        ),
        (
            "the site visit on 3/14 with the Oncozol account went great",
            "Seen 3/14, Rosa Klein, started Oncozol the same week",
            "phi_patient_identifier",
        ),
        (
            "Sam Lee shared a photo of the sales chart from the Glucentra review",
            "Sam shared a photo of her med chart from the ward",
            "phi_patient_identifier",
        ),
    ],
)
def test_look_alikes_pass_while_their_twins_are_caught(
    look_alike: str, twin: str, category: str
) -> None:
    # The pack's rules pass the look-alike (the second opinion's holds among compliant
    # texts are counted by the corpora's flagged shares).
    rules = load_rules(pack_path("safety"), second_opinion=False)
    result = check(look_alike, rules, timeout=10)
    assert result.outcome is Outcome.PASS, (look_alike, [f.rule for f in result.findings])
    assert category in _found(twin), twin

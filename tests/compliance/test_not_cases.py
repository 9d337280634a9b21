"""Adverse events that are no case for drug safety: no medicine and no patient in an English
text (`suspect.py`), or a report named in general and already passed on (`sop.py`)."""

from __future__ import annotations

import pytest

from compliance_rules import check, default_rules, suspect
from compliance_rules.model import Finding, Outcome

AE = "adverse_event_mention"


def _events(text: str) -> list[str]:
    return [f.rule for f in check(text, default_rules()).findings if f.category == AE]


@pytest.mark.parametrize(
    "text",
    [
        "Sorry all, my grandmother passed away last night. I'll be off for the rest of the week.",
        "My kid is in hospital for tests next week and I'll need two days off.",
        "I was in A&E in May after I came off my bike, and I missed a week of calls.",
        # Reported by the book, no details and no medicine: the SOP at work.
        "A pharmacist mentioned a possible side effect today. Passed it to drug safety within "
        "24 hours as per the SOP, no details here.",
        "Eine Apothekerin meldete heute eine mögliche Nebenwirkung. Laut SOP an die "
        "Pharmakovigilanz weitergeleitet, Details nicht hier.",
        "Un pharmacien m'a signalé un possible effet indésirable. Je l'ai transmis à la "
        "pharmacovigilance dans les 24 heures.",
    ],
)
def test_no_case_is_sent_to_drug_safety(text: str) -> None:
    assert _events(text) == []


@pytest.mark.parametrize(
    "text",
    [
        # A medicine, a word for one or a patient makes it a possible case again.
        "Sorry all, my grandmother passed away last night, a week after starting Cardivex.",
        "My dad was rushed to hospital last night; he had doubled his pills by mistake.",
        "My mum collapsed at home. She'd only just been put on Lipitor.",
        "a patient collapsed in the waiting room after the session",
        # The medicine only implied: how it is taken, or going on it.
        "the spot where I inject went hard and hot and the redness spread down to my elbow",
        "since I started it my hair has been coming out in clumps",
        # Passed on, but with the medicine named: a case with details.
        "A pharmacist mentioned a possible side effect on Cardivex. Passed it to drug safety.",
        # Passed on, but what happened is told: that finding stays.
        "Her face swelled up after the injection; I passed it to drug safety as per the SOP.",
    ],
)
def test_a_possible_case_still_goes_to_drug_safety(text: str) -> None:
    result = check(text, default_rules())
    assert _events(text), result.findings
    assert result.outcome is Outcome.ROUTE_PV


def test_only_english_texts_are_read_for_a_suspect() -> None:
    # The words for medicines and patients are English ones: a German text with an event and
    # no English word for a medicine keeps its finding.
    assert _events("Die Patientin ist nach der Einnahme ins Krankenhaus gekommen, Übelkeit.")


MINIMISED = "safety_minimization"


def _categories(text: str) -> set[str]:
    return {f.category for f in check(text, default_rules()).findings}


@pytest.mark.parametrize(
    "text",
    [
        # The side effect is what the minimisation is about, said of the product in general.
        "Lipiva has z e r o side effects in my experience, I tell every GP that.",
        "Oncozol is s-4-f-e for everyone, no need to mention the clots",
        "Neurabel é totalmente seguro, zero efeitos colaterais.",
    ],
)
def test_a_side_effect_waved_away_is_stopped_but_is_no_case(text: str) -> None:
    result = check(text, default_rules())
    found = {f.category for f in result.findings}
    assert MINIMISED in found and AE not in found, result.findings
    assert result.outcome is Outcome.BLOCK  # still kept from the channel, for the claim


@pytest.mark.parametrize(
    "text",
    [
        # Somebody had it: a case, however it is shrugged off.
        "my patient got nausea on Glucentra, who cares, it passes",
        "the nausea on Glucentra, who cares? my dad had it for weeks",
        "She had a rash on Dermalyn but zero side effects worth mentioning really",
    ],
)
def test_an_event_someone_had_still_goes_to_drug_safety_when_waved_away(text: str) -> None:
    result = check(text, default_rules())
    assert AE in _categories(text), result.findings
    assert result.outcome is Outcome.ROUTE_PV


def test_an_event_waved_away_beside_a_death_or_a_hospital_stay_is_kept() -> None:
    # The events inside the minimisation are dropped only when nothing serious is named.
    minimised = Finding("m", MINIMISED, Outcome.BLOCK, 0, 30, "", match="zero side effects")
    event = Finding("e", AE, Outcome.ROUTE_PV, 5, 17, "", match="side effects")
    found = [minimised, event]
    assert suspect.waved_away("zero side effects of Cardivex", found, [event]) == [minimised]
    for serious in ("the death was unrelated", "nobody went to hospital", "even in pregnancy"):
        text = f"zero side effects of Cardivex, {serious}"
        assert suspect.waved_away(text, found, [event]) == found


def test_in_another_language_only_the_general_name_of_an_event_is_waved_away() -> None:
    # The words for somebody who had something are English ones: elsewhere a symptom stays.
    shrugged = Finding("m", MINIMISED, Outcome.BLOCK, 0, 40, "", match="Übelkeit mit Cardivex")
    symptom = Finding("e", AE, Outcome.ROUTE_PV, 0, 8, "", match="Übelkeit")
    found = [shrugged, symptom]
    text = "Übelkeit mit Cardivex? Halb so wild, mein Vater hatte das auch"
    assert suspect.waved_away(text, found, [symptom], english=False) == found
    general = Finding("e", AE, Outcome.ROUTE_PV, 6, 20, "", match="Nebenwirkungen")
    said = [
        Finding("m", MINIMISED, Outcome.BLOCK, 0, 20, "", match="keine Nebenwirkungen"),
        general,
    ]
    assert suspect.waved_away("keine Nebenwirkungen mit Cardivex", said, [general], False) == [
        said[0]
    ]

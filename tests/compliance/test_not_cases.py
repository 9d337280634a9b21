"""Adverse events that are no case for drug safety: no medicine and no patient in an English
text (`suspect.py`), or a report named in general and already passed on (`sop.py`)."""

from __future__ import annotations

import pytest

from compliance_rules import check, default_rules
from compliance_rules.model import Outcome

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

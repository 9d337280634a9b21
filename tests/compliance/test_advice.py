"""A stopped kudos tells its giver the words, the reason, the clause and a rewrite that passes."""

from __future__ import annotations

from compliance_rules import Outcome, check, load_rules, pack_path
from compliance_rules.advice import advise
from compliance_rules.model import Finding
from handlers.stops import stop_message

RULES = load_rules(pack_path("default"))
PLAIN = "thanks for calling back the lady from Leeds, so patient with her"


def told(text: str) -> str:
    result = check(text, RULES)
    assert result.outcome is not Outcome.PASS
    return stop_message(result.outcome, result.findings, text=text, rules=RULES)


def test_each_reason_quotes_the_words_and_cites_the_clause() -> None:
    message = told("thanks for helping patient Maria Lopez MRN 7654321 with enrolment")
    assert "\u201cMRN 7654321\u201d" in message and "HIPAA" in message
    rewrite = message.split("Try instead: ", 1)[1]
    assert "7654321" not in rewrite and "[patient]" in rewrite
    assert check(rewrite, RULES).outcome is Outcome.PASS


def test_the_rewrite_offered_is_one_the_rules_pass() -> None:
    for text in (
        "kudos Sam, our inhaler has no side effects at all, say it loud",
        "thanks Priya, the email calls Oncozol the most effective second-line option",
    ):
        message = told(text)
        assert "\u201c" in message and "21 CFR" in message, message
        rewrite = message.split("Try instead: ", 1)[1]
        assert rewrite != text and check(rewrite, RULES).outcome in (Outcome.PASS, Outcome.WARN)


def test_an_adverse_event_gets_no_rewrite() -> None:
    message = told("thanks for the call where a patient had a severe rash after Cardivex")
    assert "drug safety" in message and "Try instead" not in message


def test_a_whole_text_finding_offers_no_rewrite() -> None:
    # The second opinion names no words, so cutting them out would leave "[patient]".
    held = Finding(
        "second-opinion.phi_patient_identifier",
        "phi_patient_identifier",
        Outcome.HOLD,
        0,
        len(PLAIN),
        "Reads like patient details to a model trained on labelled examples (score 0.95).",
        match=PLAIN,
    )
    assert advise(PLAIN, [held], RULES).rewrite is None

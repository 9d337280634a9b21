"""The rule engine: every rule's own examples, context, exceptions, offsets, and bad packs."""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from compliance_rules import Outcome, Result, RuleError, check, default_rules, load_rules, redact
from compliance_rules.normalise import normalise

RULES = default_rules().rules
SHIPPED = load_rules()  # every pack in compliance_rules/packs/, market packs too
ALL_SHIPPED = SHIPPED.rules


@pytest.mark.parametrize("rule", ALL_SHIPPED, ids=lambda r: r.id)
def test_every_rule_fires_on_its_examples_and_only_those(rule: object) -> None:
    from compliance_rules.packs import Rule

    assert isinstance(rule, Rule)
    rules = SHIPPED  # loaded once: a check changes nothing in the rule set it reads
    for text in rule.must_match:
        # Its own finding, or one of the same category over the same words (one finding
        # per category and stretch of text is kept); alone it fires (proven at load).
        assert rule.category in {f.category for f in check(text, rules).findings}, text
    for text in rule.must_not_match:
        assert rule.id not in {f.rule for f in check(text, rules).findings}, text


@pytest.mark.parametrize(
    "text",
    [
        "thanks for the site activation email #site-activation",
        "best wishes for the product launch, and safe travels",
        "great session on best practices for the HCP portal",
        "thanks for the safety training for the field team",
        "enjoy your drug-free weekend, you earned it",
        "you cured the bug in the enrolment form",
        "500 patients enrolled this quarter, amazing",
        "thanks for running the AE reporting refresher",
        "<@U0002|bob> nailed the storefront launch :tada: &amp; the coupon campaign",
        "<at>Dana Reyes</at> thanks for the Patient Enrollment dashboard",
    ],
)
def test_everyday_praise_passes(text: str) -> None:
    result = check(text)
    assert result.outcome is Outcome.PASS, result.findings
    assert result.findings == ()


@pytest.mark.parametrize(
    ("text", "outcome", "category"),
    [
        ("the Oncozol email calls it the best treatment", Outcome.BLOCK, "superlative_claim"),
        ("patient Maria Lopez called about her refill", Outcome.BLOCK, "phi_patient_identifier"),
        (
            "pt had hives after the first dose of Dermalyn",
            Outcome.ROUTE_PV,
            "adverse_event_mention",
        ),
        ("pitching Glucentra for weight loss to the team", Outcome.HOLD, "off_label"),
        ("damn fine portal copy", Outcome.WARN, "offensive_language"),
    ],
)
def test_outcomes_and_categories(text: str, outcome: Outcome, category: str) -> None:
    result = check(text)
    assert result.outcome is outcome
    assert category in {f.category for f in result.findings}


def test_the_strongest_outcome_wins() -> None:
    result = check("Oncozol is the best treatment, though a patient had a rash after the dose")
    assert {f.outcome for f in result.findings} >= {Outcome.BLOCK, Outcome.ROUTE_PV}
    assert result.outcome is Outcome.ROUTE_PV


def test_a_claim_needs_a_product_in_the_same_clause() -> None:
    assert check("best launch ever. The product page is live").outcome is Outcome.PASS
    assert check("the best product page ever").outcome is Outcome.BLOCK


def test_quoting_a_claim_still_publishes_it() -> None:
    assert check('the HCP said "Cardivex is completely safe"').outcome is Outcome.BLOCK


def test_offsets_point_into_the_original_text_through_markup() -> None:
    text = "<@U0002|anna> &amp; <#C1|launch>: Oncozol is the best treatment :tada:"
    (finding,) = check(text).findings
    assert text[finding.start : finding.end] == "the best treatment"
    assert finding.suggestion == "@anna & #launch: Oncozol is an approved treatment option  "


def test_normalisation_of_chat_markup() -> None:
    norm = normalise(
        "<@U1|ann> <#C2|ops> <https://x.test|the doc> <!here> <at>Bo Li</at> &lt;3 :clap:"
    )
    assert norm.text == "@ann #ops the doc @here @Bo Li <3  "
    assert len(norm.starts) == len(norm.text) == len(norm.ends)


def test_obfuscated_profanity_is_recognised() -> None:
    assert check("you f***ing nailed it").outcome is Outcome.BLOCK
    assert check("f**ing brilliant").outcome is Outcome.BLOCK


def test_redact_replaces_patient_identifiers_only() -> None:
    text = "thanks for helping patient MRN 1234567 with the Oncozol portal"
    redacted = redact(text, check(text))
    assert "1234567" not in redacted
    assert "[patient identifier]" in redacted and "Oncozol portal" in redacted


def test_to_dict_shape() -> None:
    data = check("patient MRN 1234567").to_dict()
    assert data["outcome"] == "block"
    assert set(data["findings"][0]) == {
        "rule",
        "category",
        "start",
        "end",
        "match",
        "message",
        "suggestion",
        "cites",
    }


GOOD_RULE = """
  - id: test.rule
    category: superlative_claim
    type: existence
    outcome: block
    message: no
    patterns: [\\bzap\\b]
    must_match: [zap it]
    must_not_match: [zapper]
"""


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (GOOD_RULE + "    colour: red\n", "unknown key(s) ['colour']"),
        (GOOD_RULE.replace("[\\bzap\\b]", "['(unclosed']"), "bad regex"),
        (GOOD_RULE.replace("[zap it]", "[nothing here]"), "must_match example not matched"),
        (GOOD_RULE.replace("[zapper]", "[zap]"), "must_not_match example matched"),
        (GOOD_RULE.replace("outcome: block", "outcome: explode"), "unknown outcome"),
        (GOOD_RULE.replace("    message: no\n", ""), "missing ['message']"),
        (GOOD_RULE.replace("type: existence", "type: magic"), "unknown type"),
        (GOOD_RULE + "    nearby_scope: sentence\n", "this rule has none"),
        (
            GOOD_RULE + "    requires_nearby: [pill]\n    nearby_scope: page\n",
            "nearby_scope 'page' is not one of clause, sentence, text",
        ),
    ],
)
def test_a_broken_pack_refuses_to_load_naming_file_rule_and_problem(
    tmp_path: Path, body: str, problem: str
) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("pack: t\nrules:\n" + body, encoding="utf-8")
    with pytest.raises(RuleError) as info:
        load_rules(path)
    message = str(info.value)
    assert str(path) in message and "test.rule" in message and problem in message


def test_a_good_pack_loads(tmp_path: Path) -> None:
    path = tmp_path / "good.yml"
    path.write_text("pack: t\nrules:\n" + GOOD_RULE, encoding="utf-8")
    loaded = load_rules(path)
    assert [r.id for r in loaded.rules if r.pack == "t@0"] == ["test.rule"]
    assert "safety@1" in loaded.packs  # adverse events and patient data: always read


SCOPED_RULE = """
  - id: test.scoped
    category: adverse_event_mention
    type: existence
    outcome: route_pv
    message: event
    patterns: [\\bcramps\\b]
    requires_nearby: [\\bcardivex\\b]
    nearby_scope: SCOPE
    must_match: [cardivex gave her cramps]
    must_not_match: [cramps after the run]
"""


@pytest.mark.parametrize(
    ("scope", "text", "fires"),
    [
        # A semicolon or a "but" ends a clause, not a sentence; a full stop ends both. (A
        # medicine the rule set knows: an English text with none is no case, `suspect.py`.)
        ("clause", "she started cardivex; then came cramps", False),
        ("sentence", "she started cardivex; then came cramps", True),
        ("sentence", "she started cardivex but then the cramps", True),
        ("sentence", "she started cardivex. Dr. Li saw the cramps", False),
        ("text", "she started cardivex. Dr. Li saw the cramps", True),
        ("text", "cramps after the run", False),
    ],
)
def test_a_rule_s_context_is_looked_for_in_its_scope(
    tmp_path: Path, scope: str, text: str, fires: bool
) -> None:
    path = tmp_path / "scoped.yml"
    path.write_text("pack: t\nrules:\n" + SCOPED_RULE.replace("SCOPE", scope), encoding="utf-8")
    rules = load_rules(path)
    found = [f.match for f in check(text, rules).findings if f.rule == "test.scoped"]
    assert found == (["cramps"] if fires else [])


def test_a_missing_pack_is_named(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match=r"absent\.yml: file not found"):
        load_rules(tmp_path / "absent.yml")


def test_shipped_packs_prove_their_examples_with_any_product_registry(tmp_path: Path) -> None:
    empty = tmp_path / "products.yml"
    empty.write_text("company: Other Pharma\nproducts: []\n", encoding="utf-8")
    assert len(load_rules(registry=empty).rules) == len(load_rules().rules) > len(RULES)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("the new Oncozol banner says it works faster than Veltrix", "unsubstantiated_comparative"),
        ("Veltrix is garbage compared to our launch", "competitor_disparagement"),
        ("Glucentra cures diabetes, great copy in the email", "cure_guarantee"),
        ("the Oncozol first-line campaign idea", "off_label"),
        ("pitching Respiclear as a rescue inhaler at the booth", "off_label"),
        ("Dermalyn for eczema patients, nice webinar", "off_label"),
    ],
)
def test_the_example_registry_names_products_and_competitors(text: str, category: str) -> None:
    assert category in {f.category for f in check(text).findings}


def test_off_label_findings_say_what_the_label_is() -> None:
    (finding,) = [f for f in check("Cardivex in pregnancy, great idea").findings]
    assert finding.outcome is Outcome.HOLD
    assert "adult hypertension" in finding.message and finding.context == "Cardivex"


def test_a_text_that_cannot_be_checked_in_time_is_held_not_passed() -> None:
    result = check("thanks for the launch " * 50, timeout=0.0)
    assert result.outcome is Outcome.HOLD and result.incomplete
    assert result.to_dict()["incomplete"] is True
    assert not check("thanks for the launch").incomplete


HOSTILE = {
    "claims": "the best treatment for patients " * 3_000,
    "names and cues": "Cardivex in pregnancy, " * 4_000,
    "names": "Cardivex and Oncozol " * 5_000,
    "events": "Oncozol is the best drug, patient had a rash after the dose; " * 1_700,
    "phones": "patient 555-214-8890 called " * 3_500,
    "emails": "patient bob@example.com called " * 3_000,
    "unclosed mentions": "<at>" * 25_000,
    "unclosed user links": "<@U1|" * 20_000,
    "one long word": "a" * 100_000,
}


def _fastest(run: Callable[[], object], times: int = 3) -> float:
    gc.collect()
    gc.disable()  # a collection of what earlier tests left is neither's time
    try:
        best = float("inf")
        for _ in range(times):
            started = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - started)
        return best
    finally:
        gc.enable()


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_text_is_given_up_on_soon_after_its_time_budget(text: str) -> None:
    # Measured against a peer rather than the clock: one pass of `re` over the same text
    # takes longer on a slower or busier machine, and so may the check's last step.
    peer = _fastest(lambda: sum(1 for _ in re.finditer(r"\w+", text)))
    budget = 0.05
    rules = load_rules()
    rules.warm()  # patterns compiled, model and tables loaded: none of it a text's time
    result: list[Result] = []
    took = _fastest(lambda: result.append(check(text, rules, timeout=budget)), times=1)
    assert took <= budget + 50 * peer, (took, peer)


def test_stop_message_without_findings_says_a_person_will_read_it() -> None:
    from handlers.kudos import stop_message

    assert "a person will read it" in stop_message(Outcome.HOLD, ())


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("send the question about kids and Cardivex to Medical Information", False),
        ("the pregnancy registry slide for the Cardivex training", False),
        ("Cardivex works great in kids too, tell your doctors", True),
        # The question in one sentence, where it went in the next.
        ("Doctor asked about Lipiva in children. Referred to med info, not discussed.", False),
        (
            "A GP asked about Somnira at a higher dose. I offered to get medical information "
            "to call her.",
            False,
        ),
        (
            "sleep clinic asked about somnira for their teens. said its an adult licence, "
            "outside what i can discuss, and gave them the med info number.",
            False,
        ),
        # A route mentioned far away does not excuse a claim.
        (
            "Lipiva is great for children, honestly the docs love it and so do parents. "
            + "Nothing else to report from the week, lunch was fine and the traffic awful. " * 4
            + "Separately, I sent a label question to medical information.",
            True,
        ),
    ],
)
def test_an_off_label_question_sent_the_proper_way_is_not_promotion(text: str, held: bool) -> None:
    found = {f.rule for f in check(text, default_rules()).findings}
    assert ("offlabel.registry" in found) is held, found


@pytest.mark.parametrize(
    ("text", "held"),
    [
        # The label's limit said, by a pack's rule as by the registry's cues.
        (
            "per the Cardivex SmPC section 4.3 it's contraindicated in pregnancy, use that wording",
            False,
        ),
        ("Kudos for making sure 'not for use in pregnancy' was front and centre", False),
        ("great idea to promote the drug in pregnancy on the portal", True),
    ],
)
def test_the_label_s_limit_said_is_not_off_label_talk(text: str, held: bool) -> None:
    findings = check(text, default_rules()).findings
    found = {f.category for f in findings if f.pack != "second-opinion"}  # the rules'
    assert ("off_label" in found) is held, found

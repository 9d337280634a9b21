"""Quiet periods (`compliance_rules/quiet.py`): during one, a kudos naming a listed product in
any of its names and scripts, or financial results in any of the ten languages, is held with
the reason; outside it, or naming neither, nothing changes; a stronger outcome stays."""

from __future__ import annotations

from datetime import date

import pytest

from compliance_rules import Outcome, check, default_rules
from compliance_rules import quiet as quiet_module
from compliance_rules.quiet import QUIET_PERIOD, QuietPeriod, during_quiet_periods

EARNINGS = QuietPeriod("Q4 earnings", date(2026, 12, 15), date(2027, 1, 28))
LAUNCH = QuietPeriod(
    "Oncozol EU launch",
    date(2026, 11, 1),
    date(2026, 12, 31),
    products=("Oncozol",),
    reason="The EU launch is under embargo until the press release.",
)
IN_BOTH = date(2026, 12, 20)


def _held(text: str, day: date = IN_BOTH, periods: tuple[QuietPeriod, ...] = (EARNINGS, LAUNCH)):
    rules = default_rules()
    return during_quiet_periods(check(text, rules), text, periods, day, rules)


@pytest.mark.parametrize(
    "text",
    [
        "thanks for the Oncozol training deck, really clear",
        "great job on the 0ncozol training deck",  # a digit for a letter
        "great job on the \u041encozol deck",  # a Cyrillic O
        "great job on the O\u200bncozol deck",  # a zero-width space
        "thanks for the zelotinib slides",  # its generic name
        "オンコゾールの研修資料、ありがとうございます",  # katakana
    ],
)
def test_a_product_under_embargo_is_held_in_any_of_its_names(text: str) -> None:
    result = _held(text)
    assert result.outcome is Outcome.HOLD
    [finding] = [f for f in result.findings if f.rule == QUIET_PERIOD]
    assert "Oncozol EU launch" in finding.message and "under embargo" in finding.message


@pytest.mark.parametrize(
    "text",
    [
        "thanks for pulling the Q4 results together so fast",
        "great work on the revenue bridge for the board",
        "danke für die Quartalszahlen, super vorbereitet",
        "merci pour le chiffre d'affaires consolidé, top",
        "gracias por los resultados trimestrales, excelente",
        "grazie per il fatturato di novembre",
        "obrigado pelo faturamento do trimestre",
        "dank voor de kwartaalcijfers, top gedaan",
        "dzięki za wyniki kwartalne, świetna robota",
        "決算資料の準備ありがとう",
        "感谢你整理财报",
    ],
)
def test_financial_results_are_held_in_an_earnings_quiet_period(text: str) -> None:
    result = _held(text)
    assert result.outcome is Outcome.HOLD
    assert any("Q4 earnings" in f.message for f in result.findings if f.rule == QUIET_PERIOD)


@pytest.mark.parametrize(
    "text",
    [
        "thanks for fixing the build before the demo",
        "great results on the patient-support training quiz",  # results, not financial ones
        "thanks for the Cardivex booth set-up",  # another product
    ],
)
def test_a_kudos_naming_neither_passes(text: str) -> None:
    assert _held(text).outcome is check(text).outcome


def test_outside_the_period_nothing_changes() -> None:
    text = "thanks for the Oncozol deck and the Q4 results"
    assert _held(text, date(2027, 2, 1)).outcome is Outcome.PASS
    assert _held(text, date(2026, 10, 31), (LAUNCH,)).outcome is Outcome.PASS


def test_a_product_period_leaves_results_alone_unless_it_says_so() -> None:
    text = "thanks for the Q4 results pack"
    assert _held(text, periods=(LAUNCH,)).outcome is Outcome.PASS
    both = QuietPeriod("launch", LAUNCH.start, LAUNCH.end, ("Oncozol",), financial=True)
    assert _held(text, periods=(both,)).outcome is Outcome.HOLD


def test_a_possible_adverse_event_still_goes_to_drug_safety() -> None:
    text = "thanks for taking the call: her mother was hospitalised after starting Oncozol"
    result = _held(text)
    assert result.outcome is Outcome.ROUTE_PV
    assert any(f.rule == QUIET_PERIOD for f in result.findings)


def test_a_text_that_cannot_be_read_is_held(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> tuple[str, ...]:
        raise RecursionError("too deep")

    monkeypatch.setattr(quiet_module, "_readings", broken)
    result = _held("thanks for fixing the build")
    assert result.outcome is Outcome.HOLD
    assert "could not be read" in result.findings[-1].message

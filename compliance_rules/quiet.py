"""Quiet periods: date ranges (an earnings quiet period, a launch under embargo) during which a
kudos that mentions a listed product, or financial results, is held for a compliance reviewer
with the reason, whatever the rules say of it.

The text is read as the rules read it (markup as plain words, hidden characters and look-alike
letters undone), so "0ncozol" or a Cyrillic letter in a brand does not slip past; a product is
found by any of its registry names (brand, generic, aliases in other scripts). Financial
results are found by a word list in the ten languages the rules read, and by the rules' own
forward-looking financial findings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from compliance_rules.engine import RuleSet
from compliance_rules.evasion import unevade
from compliance_rules.folding import fold
from compliance_rules.model import Finding, Outcome, Result
from compliance_rules.normalise import normalise
from compliance_rules.registry import whole_word

QUIET_PERIOD = "quiet_period"  # the rule and category of a quiet period's finding

_WORDS = (
    # English
    r"revenues?|turnover|earnings|eps|dividends?|share price|stock price|market share"
    r"|(?:financial|quarterly|annual|half[- ]year|full[- ]year|q[1-4]) (?:results|numbers|figures)"
    r"|sales (?:figures|numbers|results)|guidance|profit(?:s|ability)?|margins?"
    r"|top[- ]line|bottom[- ]line|(?:beat|miss(?:ed)?) (?:the )?(?:quarter|consensus|estimates)"
    # German, French, Spanish, Italian, Portuguese
    r"|umsatz|umsätze|quartalszahlen|quartalsergebnisse?|jahresergebnis|gewinn|dividende"
    r"|aktienkurs|marktanteile?|chiffre d'affaires|résultats (?:trimestriels|annuels|financiers)"
    r"|bénéfices?|cours de l'action|part de marché|ingresos|facturación"
    r"|resultados (?:trimestrales|anuales|financieros|trimestrais|anuais|financeiros)"
    r"|beneficios?|dividendos?|cotización|cuota de mercado|fatturato|ricavi"
    r"|risultati (?:trimestrali|annuali|finanziari)|utile|prezzo delle azioni|quota di mercato"
    r"|receitas?|faturamento|lucros?|cotação|participação de mercado"
    # Dutch, Polish
    r"|omzet|kwartaalcijfers|jaarcijfers|winst|aandelenkoers|marktaandeel"
    r"|przychody|wyniki (?:kwartalne|finansowe|roczne)|zysk|dywidend[ay]|kurs akcji|udział w rynku"
)
_FINANCIAL = re.compile(
    rf"(?<![\w-])(?:{_WORDS})(?![\w-])|売上|決算|業績|配当|株価|营收|财报|业绩|股价|股息"
)


@dataclass(frozen=True)
class QuietPeriod:
    """`start` to `end`, both days included (UTC). With `products`, a kudos naming one of them
    is held; `financial` holds one that mentions financial results (default: a period that
    lists no products is about financial results)."""

    name: str
    start: date
    end: date
    products: tuple[str, ...] = ()
    financial: bool | None = None
    reason: str | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def about_results(self) -> bool:
        return self.financial if self.financial is not None else not self.products


def during_quiet_periods(
    result: Result, text: str, periods: Sequence[QuietPeriod], day: date, rules: RuleSet | None
) -> Result:
    """`result`, with a hold for each quiet period covering `day` that `text` touches."""
    active = [p for p in periods if p.covers(day)]
    if not active:
        return result
    try:
        readings = _readings(text)
    except Exception:  # a text that cannot be read is held, never passed unread
        readings = None
    if readings is None:
        unread = Finding(
            QUIET_PERIOD,
            QUIET_PERIOD,
            Outcome.HOLD,
            0,
            len(text),
            f"During the quiet period “{active[0].name}” this text could not be read for "
            "products and results, so a compliance reviewer reads it first.",
            match=text,
        )
        return _with(result, (unread,))
    found = tuple(
        finding
        for period in active
        if (finding := _finding(period, text, readings, result, rules)) is not None
    )
    return _with(result, found) if found else result


def _with(result: Result, found: tuple[Finding, ...]) -> Result:
    findings = (*result.findings, *found)
    outcome = max((f.outcome for f in findings), key=lambda o: o.rank)
    return Result(outcome, findings, result.incomplete)


def _readings(text: str) -> tuple[str, ...]:
    norm = normalise(text)
    unevaded = unevade(norm)
    views = (norm.text,) if unevaded is None else (norm.text, unevaded.text)
    return tuple(fold(v).lower() for v in views)


def _finding(
    period: QuietPeriod,
    text: str,
    readings: tuple[str, ...],
    result: Result,
    rules: RuleSet | None,
) -> Finding | None:
    mention = _product(period, readings, rules)
    if mention is None and period.about_results:
        mention = _results(readings, result)
    if mention is None:
        return None
    why = f"During the quiet period “{period.name}” ({period.start} to {period.end})"
    subject = "financial results" if mention == _RESULTS else mention
    message = (
        f"{why}, kudos that mention {subject} are read by a compliance reviewer before "
        f"anything is posted.{' ' + period.reason if period.reason else ''}"
    )
    return Finding(QUIET_PERIOD, QUIET_PERIOD, Outcome.HOLD, 0, len(text), message, match=text)


_RESULTS = "\x00results"


def _product(period: QuietPeriod, readings: tuple[str, ...], rules: RuleSet | None) -> str | None:
    for name in period.products:
        pattern = _names(name, rules)
        if any(pattern.search(reading) for reading in readings):
            return name
    return None


def _names(name: str, rules: RuleSet | None) -> re.Pattern[str]:
    """Every registry name of the product called `name` (or just `name`, if it is not one)."""
    registry = rules.registry if rules is not None else None
    wanted = fold(name).lower()
    for product in registry.products if registry is not None else ():
        every = (product.brand, product.generic, *product.aliases)
        if wanted in {fold(n).lower() for n in every}:
            return re.compile("|".join(whole_word(fold(n).lower()) for n in every))
    return re.compile(whole_word(wanted))


def _results(readings: tuple[str, ...], result: Result) -> str | None:
    if any(f.category == "forward_looking_financial" for f in result.findings):
        return _RESULTS
    return _RESULTS if any(_FINANCIAL.search(r) for r in readings) else None

"""Off-label talk: a registry product named in the same clause as a use outside its label."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import regex

from compliance_rules.hits import Text
from compliance_rules.model import Finding, Outcome
from compliance_rules.registry import Product, Registry

OFF_LABEL_RULE = "offlabel.registry"
# Near an off-label cue, words that show the text is about keeping to the label ("the
# pregnancy contraindication", "not a rescue inhaler", "the decompensated liver disease
# limitation") or reports an exposure ("got pregnant while on"), not promoting the use.
_LABEL_TALK_BEFORE = re.compile(
    r"\b(?:not|never|no|avoid|don'?t|do not|without)\s+(?:(?:a|an|the|for|in|use|use in|"
    r"to use|be used|recommended|approved|indicated)\s+)*\S*\s*$"
    r"|\bcontra-?indicated\s+(?:(?:in|for|during|with)\s+(?:the\s+)?)?\S*\s*$"
    r"|\b(?:got|gets|getting|became|become|becomes|is|was|were|she'?s|turned out to be)\s*$",
    re.IGNORECASE,
)
_LABEL_TALK_AFTER = re.compile(
    r"^\W*(?:[\w-]+\s+){0,3}?(?:contraindications?|contraindicated|warnings?|limitations?|"
    r"precautions?|restrictions?|exclusions?|is not (?:approved|indicated)|"
    r"isn'?t (?:approved|indicated))\b",
    re.IGNORECASE,
)
_LABEL_TALK_SPAN = 40
# Near the clause, the proper route for a question outside the label: Medical Information
# answers unsolicited questions, a pregnancy registry collects exposures. People tell the
# question in one sentence and where it went in the next ("A GP asked about Lipiva in
# children. Referred to med info."), so the route counts within `_CHANNEL_SPAN` characters;
# in every language a pack covers.
_CHANNEL_SPAN = 240
_PROPER_CHANNEL = re.compile(
    r"\b(?:medical information|med ?info|medinfo|medical affairs|MSL|unsolicited|"
    r"pregnancy (?:exposure )?registry|"
    r"medizinischen? information|medizinisch-wissenschaftlichen? information|"
    r"informations? médicales?|info médicale|affaires médicales|"
    r"informaci[oó]n médica|informaci[oó]n medica|"
    r"informazion[ei] medic[ah]e|informa[çc](?:ão|ões|ao|oes) m[ée]dicas?|"
    r"medische informatie|informacj\w* medyczn\w*)\b"
    r"|メディカル・?インフォメーション|医薬情報|くすり相談|医学信息|医学部|药物信息|醫學資訊",
    re.IGNORECASE,
)


# An off-label use told with what came of it in the patient ("the 15-year-old she started on
# Glucentra is doing great", "leurs crises ont diminué", "病人肿瘤缩小了") is a special
# situation for drug safety (EU GVP Module VI.B.6.3) as well as off-label talk.
_OUTCOME = re.compile(
    r"\b(?:is|are|was|were|been|'s|'re)\s+(?:doing|feeling|getting|sleeping|breathing)\s+"
    r"(?:so\s+|really\s+|much\s+|way\s+|a lot\s+)?(?:great|better|well|fine)\b"
    r"|\b(?:breathing|sleeping|walking)\s+(?:much\s+|way\s+|a lot\s+)?better\b"
    r"|\b(?:cleared up|got (?:much |a lot |way )?better|shr[au]nk|went away|in remission)\b"
    r"|\b(?:no more|fewer) (?:attacks|seizures|flares|migraines|fits)\b"
    r"|\b(?:ont|a|sont|est)\s+(?:bien\s+|nettement\s+|beaucoup\s+)?(?:diminu[ée]e?s?|"
    r"disparu(?:e?s)?|am[ée]lior[ée]e?s?|gu[ée]ri(?:e?s)?)\b"
    r"|\bva(?:nt)? (?:beaucoup |bien )?mieux\b"
    r"|\b(?:geht es|ging es)\s+(?:\w+\s+)?besser\b|\b(?:besser geworden|verschwunden|"
    r"zurückgegangen|abgeheilt|abgeklungen)\b"
    r"|\b(?:ha|han)\s+(?:mejorado|desaparecido|disminuido)\b|\b(?:está|están)\s+(?:mucho\s+)?mejor\b"
    r"|\b(?:è|sono|ha|hanno)\s+(?:molto\s+)?(?:migliorat[oaie]|scompars[oaie]|diminuit[oaie]|"
    r"guarit[oaie])\b|\bsta(?:nno)? (?:molto )?meglio\b"
    r"|\b(?:melhorou|melhoraram|desapareceu|desapareceram|diminuiu|diminuíram)\b"
    r"|\b(?:is|zijn)\s+(?:flink\s+|sterk\s+)?(?:verbeterd|verdwenen|afgenomen)\b"
    r"|\b(?:gaat|gaan)\s+(?:veel\s+)?beter\b"
    r"|\b(?:poprawił\w*|zniknęł\w*|zniknął|zmniejszył\w*|czuj[eą] się lepiej)"
    r"|缩小|好转|消失了|减少了|改善し|良くなっ|よくなっ|縮小し|消えた|消えました",
    re.IGNORECASE,
)
_OUTCOME_SPAN = 160


def with_outcome(text: str, findings: list[Finding]) -> list[Finding]:
    """`findings` and, when off-label use is told with what came of it in the patient and
    no adverse event was found, that outcome as one for drug safety."""
    if any(f.category == "adverse_event_mention" for f in findings):
        return findings
    for f in findings:
        if f.category != "off_label":
            continue
        told = _OUTCOME.search(text, max(0, f.start - _OUTCOME_SPAN), f.end + _OUTCOME_SPAN)
        if told is not None:
            start, end = told.span()
            event = Finding(
                "offlabel.outcome",
                "adverse_event_mention",
                Outcome.ROUTE_PV,
                start,
                end,
                "Off-label use told with its outcome in a patient is a special situation "
                "for drug safety, not a channel.",
                match=text[start:end],
                cites="EU GVP Module VI.B.6.3; ICH E2D",
                pack="registry",
            )
            return [*findings, event]
    return findings


class OffLabel:
    """The registry's products that have off-label cues."""

    def __init__(self, registry: Registry | None) -> None:
        self.products: tuple[tuple[Product, re.Pattern[str]], ...] = tuple(
            (product, cues)
            for product in (registry.products if registry is not None else ())
            if (cues := product.off_label) is not None
        )

    def patterns(self) -> tuple[list[re.Pattern[str]], list[re.Pattern[str]]]:
        """The products' names, and their cues, for the rule set's scan to find places for."""
        return [p.names for p, _ in self.products], [cues for _, cues in self.products]

    def findings(
        self,
        original: str,
        span: Callable[[int, int], tuple[int, int]],
        text: Text,
        named: Iterable[int] | None,
        outcome: Outcome,
    ) -> list[Finding]:
        """Each cue of a use outside the label in the clause of a product's name.

        `named`: the products (by number) whose names may be in the text (None: all).
        """
        found = []
        plain = text.text
        for n in range(len(self.products)) if named is None else named:
            product, cues = self.products[n]
            if not text.may_have(cues):
                continue
            for name in text.matches(product.names):
                text.tick()
                lo, hi = text.clause(name.start(), name.end())
                for cue in text.matches(cues, lo, hi):
                    if _label_talk(plain, lo, hi, cue):
                        continue
                    start, end = span(cue.start(), cue.end())
                    found.append(_finding(product, original, start, end, outcome, name[0]))
        return found


def routed(plain: str, start: int, end: int) -> bool:
    """Whether text near plain[start:end] sends the question the proper way (Medical
    Information, a pregnancy registry): any finding of off-label talk there is not promotion."""
    lo, hi = max(0, start - _CHANNEL_SPAN), end + _CHANNEL_SPAN
    return _PROPER_CHANNEL.search(plain, lo, hi) is not None


def label_kept(plain: str, start: int, end: int) -> bool:
    """Whether off-label talk at plain[start:end] keeps to the label: the question routed
    the proper way nearby, or the label's limit said around it ("contraindicated in
    pregnancy", "not a rescue inhaler")."""
    return routed(plain, start, end) or _limit_said(plain, start, end, 0, len(plain))


def _limit_said(plain: str, start: int, end: int, lo: int, hi: int) -> bool:
    """The label's limit said right before or after plain[start:end], within plain[lo:hi]."""
    before = plain[max(lo, start - _LABEL_TALK_SPAN) : start]
    after = plain[end : min(hi, end + _LABEL_TALK_SPAN)]
    return bool(_LABEL_TALK_BEFORE.search(before) or _LABEL_TALK_AFTER.search(after))


def _label_talk(plain: str, lo: int, hi: int, cue: re.Match[str] | regex.Match[str]) -> bool:
    return routed(plain, lo, hi) or _limit_said(plain, cue.start(), cue.end(), lo, hi)


def _finding(
    product: Product, original: str, start: int, end: int, outcome: Outcome, name: str
) -> Finding:
    return Finding(
        OFF_LABEL_RULE,
        "off_label",
        outcome,
        start,
        end,
        f"{product.brand} is approved for {product.approved}; talk of other "
        "uses needs review by Regulatory Affairs.",
        None,
        match=original[start:end],
        cites="21 CFR 202.1(e)(4); PhRMA Code section 1",
        context=name,
        pack="registry",
    )

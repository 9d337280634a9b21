"""A possible adverse event already passed to drug safety, as the SOP asks, told without
details: "a GP mentioned a possible side effect, passed it to PV within 24 hours".

A text that names an event only by its general name (side effect, Nebenwirkung, effet
indésirable, 有害事象...) and says, near it, that the report went to pharmacovigilance is the
process at work, not a report made in a channel. Its finding of that general name is dropped
(`passed_on`) unless the text also names a medicine, which would make it a case with
details: then it goes to drug safety as any other. Findings of what happened (a collapse, a
rash, a hospital stay) are never dropped, and the second opinion still reads the text.
"""

from __future__ import annotations

import re

# The general names of an adverse event, in every language a pack covers.
_GENERAL = re.compile(
    r"(?:possible |suspected |potential )?(?:side[- ]effects?|adverse (?:events?|reactions?|"
    r"effects?|drug reactions?)|aes?"
    r"|nebenwirkung\w*|unerwünschte\w* (?:ereignis\w*|wirkung\w*|arzneimittelwirkung\w*)"
    r"|effets? (?:indésirables?|secondaires?)|événements? indésirables?"
    r"|efectos? (?:secundarios?|adversos?)|reacci[oó]n(?:es)? adversas?|eventos? adversos?"
    r"|effett[oi] (?:collaterali|collaterale|indesiderat[oi]|avvers[oi])|event[oi] avvers[oi]"
    r"|reazion[ei] avvers[ae]"
    r"|efeitos? (?:colaterais|colateral|adversos?|secundários?)|reaç(?:ão|ões) adversas?"
    r"|bijwerking(?:en)?|ongewenste (?:voorval|gebeurtenis)\w*"
    r"|działani[ea] niepożądane|zdarzeni[ea] niepożądane"
    r"|副作用|有害事象|不良事件|不良反应|不良反應)",
    re.IGNORECASE,
)
# Drug safety as the place a report goes, in those languages.
_DRUG_SAFETY = re.compile(
    r"\b(?:drug safety|patient safety|pharmacovigilance|(?-i:PV)|safety (?:team|inbox|line|desk|"
    r"mailbox|hotline)|pharmakovigilanz|arzneimittelsicherheit|farmacovigilancia|"
    r"farmacovigilanza|farmacovigilância|geneesmiddelenbewaking|farmacovigilantie|lareb|"
    r"farmakowigilancj\w*|bezpieczeństw\w* farmakoterapii)"
    r"|ファーマコビジランス|安全管理部|安全性部門|安全性情報部|(?-i:PV)部門|药物警戒|藥物警戒|药物安全部|药品安全部",
    re.IGNORECASE,
)
# Said to have gone there: passed, forwarded, reported, logged, within the deadline.
_SENT = re.compile(
    r"\b(?:pass|passed|forward\w*|sent|send|report\w*|logg?\w*|escalat\w*|rout\w*|transferr?\w*|"
    r"submitt?\w*|handed|übergeben|weitergeleitet|gemeldet|weitergegeben|transmis|signalé|"
    r"envoyé|remont\w*|transmit\w*|enviad\w*|derivad\w*|reportad\w*|notificad\w*|inoltrat\w*|"
    r"segnalat\w*|trasmess\w*|encaminhad\w*|repassad\w*|comunicad\w*|doorgezet|doorgestuurd|"
    r"gemeld|przekaza\w*|zgłosi\w*)\b"
    r"|報告|連絡|転送|共有しました|报给|上报|上報|转给|轉給|转交|轉交|移交|提交",
    re.IGNORECASE,
)
_SPAN = 240  # the report and where it went, in the same or the next sentences


def general(words: str) -> bool:
    """Whether `words` (a finding's match) name an adverse event only in general."""
    return _GENERAL.fullmatch(words.strip()) is not None


def passed_on(text: str, start: int, end: int) -> bool:
    """Whether text near text[start:end] says a report went to drug safety."""
    lo, hi = max(0, start - _SPAN), min(len(text), end + _SPAN)
    return _DRUG_SAFETY.search(text, lo, hi) is not None and _SENT.search(text, lo, hi) is not None

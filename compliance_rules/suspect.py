"""No medicine, no case: an English text that names no medicine and no patient.

A report of an adverse event is a case for drug safety when it has a suspect medicine (ICH
E2D, EU GVP Module VI: an identifiable patient, a reporter, a suspect product, an event).
"Sorry all, my grandmother passed away last night" and "I was in A&E in May after I came off
my bike" tell of illness and death with no medicine and no patient in them: a colleague's
life, not a case. The rules' findings of an adverse event in such a text are dropped
(`no_suspect`), for English texts, whose words for medicines and patients are listed here.
Any name of a medicine (the registry, competitors, `drugs.yml` and its classes), any word for
one or for taking one (pills, a dose, an inhaler, the jab, "taking", "where I inject",
"since I started it"), and any patient, caller, customer or health professional keeps every
finding; so does the second opinion, which reads on.

Nor is a side effect waved away a case (`waved_away`): in "zero side effects", "a bit of
nausea on Glucentra, who cares?" or "no need to mention the clots" the event is what the
minimisation is about, said of the product in general, not something that happened to
someone. An event found only inside the words a safety-minimisation rule matched is dropped
when the text tells of nobody who had anything ("my patient got", "she felt", "I had") and
names no death, hospital stay, overdose or pregnancy; in other languages only an event's
general name is dropped so. The text is still stopped for the minimisation.
"""

from __future__ import annotations

import re
from functools import cache

from compliance_rules import sop
from compliance_rules.drug_names import DrugNames, drug_list
from compliance_rules.model import Finding

_AE = "adverse_event_mention"
_MINIMISED = "safety_minimization"
# Somebody who had something: a person, then within two words what happened to them.
_EXPERIENCED = re.compile(
    r"\b(?:i|i'?ve|i'?d|we|he|she|my \w+|his \w+|her \w+|their \w+|our \w+|"
    r"(?:a|the|one|this|that) (?:patient|man|woman|lady|guy|boy|girl|child|kid|baby|caller|"
    r"customer|gentleman)|patient|pt|mum|mom|dad|wife|husband|son|daughter|grandma|grandad)\s+"
    r"(?:\w+\s+){0,2}?(?:had|has had|have had|got|gets|felt|feels|developed|experienced|"
    r"suffered|reported|complained|ended up|woke|broke out|came out|took|overdosed|swallowed|"
    r"died|passed out|collapsed|fainted|was (?:rushed|admitted|taken)|went into)\b",
    re.IGNORECASE,
)
_SERIOUS = re.compile(
    r"\b(?:died|death|dead|dying|fatal\w*|hospital\w*|a&e|icu|intensive care|"
    r"emergency|pregnan\w*|breastfe\w*|suicid\w*|coma|overdosed)\b",
    re.IGNORECASE,
)

_MEDICINE_OR_PATIENT = (
    r"\b(?:medic(?:ine|ines|ation|ations|ated)|meds?|drugs?|pills?|tablets?|capsules?|caplets?|"
    r"doses?|dosing|dosage|overdos\w*|double[- ]dos\w*|injections?|injected|injectables?|"
    r"infusions?|jabs?|shots?|vaccin\w*|boosters?|inhalers?|puffers?|nebuli[sz]ers?|insulin|"
    r"pens?|patch(?:es)?|creams?|ointments?|drops|syrup|suppositor\w*|prescri\w*|scripts?|"
    r"refills?|pharmacist|chemist|treatments?|therap(?:y|ies)|chemo\w*|biologics?|steroids?|"
    r"antibiotics?|painkillers?|paracetamol|ibuprofen|aspirin|morphine|opioids?|sleeping pills?|"
    r"blood thinners?|took|taking|taken|takes|swallow\w*|weaned|trial|inject\w*|infus\w*|"
    r"puffs?|sprays?|drops|applied|rubbing|"
    # Going on or off something unnamed: "since I started it my hair falls out".
    r"start(?:ed|ing)|stop(?:ped|ping)|switch(?:ed|ing)|came off (?:it|them)|went on|upped|doubled|"
    r"tried (?:it|them|one|some)|on (?:it|them|the new (?:one|ones|stuff))|"
    r"patients?|pts?|caller|customers?|consumers?|hcps?|gps?|doctors?|physicians?|nurses?|"
    r"consultants?|specialists?|pharmacists?|clinic|helpline|hotline|support line|hub|"
    r"side[- ]effects?|adverse|reactions?|allerg\w*|product|brand|label)\b"
)


@cache
def _pattern(classes: tuple[str, ...]) -> re.Pattern[str]:
    named = "|".join(f"(?:{c})" for c in classes)
    return re.compile(_MEDICINE_OR_PATIENT + (rf"|\b(?:{named})\b" if named else ""), re.I)


def no_suspect(read: str) -> bool:
    """Whether the English text `read` (folded, evasions undone), which names no medicine of
    the rule set's, has no word for one, no class of them, no patient and no health
    professional."""
    return _pattern(drug_list()["classes"]).search(read) is None


def not_cases(
    text: str, read: str, findings: list[Finding], names: DrugNames, english: bool
) -> list[Finding]:
    """`findings` less the rules' adverse events that are no case for drug safety: in an
    English text naming no medicine and no patient (`no_suspect`), every one; in a text that
    says the report went to drug safety and names no medicine (`sop.py`), the event named
    only in general. `read`: the text as the rules read it, folded."""
    events = [f for f in findings if f.category == _AE]
    if not events:
        return findings
    findings = waved_away(text, findings, events, english)
    events = [f for f in findings if f.category == _AE]
    if not events or names.named_in(read):
        return findings
    if english and no_suspect(read):
        dropped = {id(f) for f in events}
    else:
        dropped = {
            id(f) for f in events if sop.general(f.match) and sop.passed_on(text, f.start, f.end)
        }
    return [f for f in findings if id(f) not in dropped]


def waved_away(
    text: str, findings: list[Finding], events: list[Finding], english: bool = True
) -> list[Finding]:
    """`findings` less the adverse events found only inside a safety minimisation's words,
    when every event of the text is one and the text tells of nobody who had anything. The
    words for somebody who had something are English: in another language only the general
    name of an event ("keine Nebenwirkungen", "zero efeitos colaterais") is dropped so."""
    minimised = [f for f in findings if f.category == _MINIMISED]
    if not minimised:
        return findings
    inside = [e for e in events if any(m.start <= e.start and e.end <= m.end for m in minimised)]
    if len(inside) < len(events) or _EXPERIENCED.search(text) or _SERIOUS.search(text):
        return findings
    if not english and not all(sop.general(e.match) for e in events):
        return findings
    return [f for f in findings if f.category != _AE]

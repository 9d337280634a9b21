"""A rule set and its check of a text: hits, findings, suggestions, and the outcome."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property, partial
from pathlib import Path

from compliance_rules import evasion, language, offlabel, second_opinion, suspect
from compliance_rules.compiled import Compiled, fold
from compliance_rules.drug_names import DRUGS, DrugNames, drug_list, marketed, of_registry
from compliance_rules.hits import Text, anchored, confirm, everywhere, prove, starts_of
from compliance_rules.lists import named
from compliance_rules.model import CATEGORIES, Finding, Outcome, Result, RuleError
from compliance_rules.normalise import Normalised, normalise
from compliance_rules.offlabel import OFF_LABEL_RULE, OffLabel
from compliance_rules.packs import LANGUAGES, Rule, load_pack
from compliance_rules.pattern import start_clock
from compliance_rules.registry import DEFAULT as DEFAULT_REGISTRY
from compliance_rules.registry import Registry, load_registry

PACKS = Path(__file__).parent / "packs"
SAFETY = PACKS / "safety.yml"  # adverse events and patient identifiers: always loaded
TIMEOUT = 0.25  # seconds one check may take before the text is held for a person
_PII_CATEGORIES = {"phi_patient_identifier"}
_PASSED = Result(Outcome.PASS, ())


class RuleSet:
    """Rules loaded from packs, each rule's own examples proven: those of a pack of the
    company's own as it loads; those of the shipped packs by the test suite and by
    `prove()` (which `warm()` runs), since compiling every pattern at every load would make
    each start and command take seconds.

    `scan=False` leaves the rule set uncompiled: every rule is then searched for in every
    text, the plain way, which is what the compiled scan must always agree with. `sharp`:
    the scan is sharpened at once (`Compiled.sharpen`), not when the rules are warmed.
    `second_opinion`: a text the rules pass for a category may still be held (`second_opinion`).
    """

    def __init__(
        self,
        rules: list[Rule],
        registry: Registry | None = None,
        actions: Mapping[str, Outcome] | None = None,
        *,
        scan: bool = True,
        unknown_language: Outcome = Outcome.HOLD,
        proven: bool = False,
        deferred: Sequence[Deferred] = (),
        sharp: bool = False,
        second_opinion: bool = True,
    ) -> None:
        self.rules = tuple(rules)
        self.second_opinion = second_opinion
        self.registry = registry
        self.actions = dict(actions or {})
        self.unknown_language = unknown_language
        self._scan = scan
        self._deferred = {d.language: d for d in deferred}
        self._lock = threading.Lock()
        self.packs = tuple(dict.fromkeys([*(r.pack for r in rules), *(d.pack for d in deferred)]))
        present = {r.language for r in rules}
        self.languages = frozenset(present | {"en"} | set(self._deferred))
        by_language = {lang: [r for r in rules if r.language == lang] for lang in present}
        if proven or len(present) <= 1:
            # One language: this rule set is its own part, compiled into one scan.
            self.parts: dict[str, RuleSet] = {next(iter(present), "en"): self}
        else:
            # One scan per language, so an English text pays only for the English rules; the
            # product registry's off-label talk is English, read with the English rules.
            part_of = partial(RuleSet, actions=actions, scan=scan, proven=True, sharp=sharp)
            self.parts = {
                lang: part_of(part, registry if lang == "en" else None)
                for lang, part in by_language.items()
            }
        self.off_label = OffLabel(registry)
        names, cues = self.off_label.patterns()
        one = scan and len(self.parts) == 1
        self.compiled = Compiled(self.rules, names, cues, sharp=sharp) if one else None
        self._unproven = [] if proven else [r for r in self.rules if r.shipped]
        prove(() if proven else [r for r in self.rules if not r.shipped])

    def prove(self) -> None:
        """Compile every rule (of every part loaded) and prove its examples now: RuleError
        for the first that does not hold."""
        for part in {id(p): p for p in (self, *self.parts.values())}.values():
            prove(part._unproven)
            part._unproven = []

    @cached_property
    def drug_names(self) -> DrugNames:
        """The medicines this rule set knows, as the second opinion reads them."""
        return of_registry(self.registry)

    def outcome_of(self, rule: Rule) -> Outcome:
        return self.actions.get(rule.category, rule.outcome)

    def part(self, lang: str, sharp: bool = False) -> RuleSet | None:
        """The rules of one language; a deferred pack is loaded (its examples proven) the
        first time a text in its language comes, or by `warm()` (with its scan `sharp`)."""
        found = self.parts.get(lang)
        if found is not None or lang not in self._deferred:
            return found
        with self._lock:
            if lang not in self.parts:
                rules = self._deferred[lang].load()
                built = RuleSet(rules, None, self.actions, scan=self._scan, sharp=sharp)
                self.parts = {**self.parts, lang: built}
        return self.parts[lang]

    def warm(self) -> None:
        """Load the language model, every deferred pack and the second opinion's weights now,
        read what each pattern needs (`Compiled.sharpen`) and prove every example (RuleError
        for a pack or weights that do not load, or an example that does not hold)."""
        evasion.warm()
        if len(self.languages) > 1:
            language.warm()
        for lang in sorted(self._deferred):
            self.part(lang, sharp=True)
        for part in self.parts.values():
            if part.compiled is not None:
                part.compiled.sharpen()
        self.prove()
        if self.second_opinion:
            second_opinion.shipped()

    def every_rule(self) -> tuple[Rule, ...]:
        """The rules of every language, deferred packs loaded."""
        self.warm()
        later = [r for lang, part in self.parts.items() if part is not self for r in part.rules]
        return tuple(dict.fromkeys([*self.rules, *later]))


@dataclass(frozen=True)
class Deferred:
    """A shipped pack of another language, loaded when first needed: most texts are in
    one language, and compiling every pack's patterns would slow every start."""

    path: Path
    language: str
    pack: str
    load: Callable[[], list[Rule]]


def pack_path(name: str) -> Path:
    """A shipped pack by name (`default`), or a path to a pack of the company's own."""
    if "/" in name or name.endswith((".yml", ".yaml")):
        return Path(name)
    return PACKS / f"{name}.yml"


def language_packs(languages: Iterable[str] | None = None) -> list[Path]:
    """The shipped packs for other languages (all of them, or those of `languages`)."""
    wanted = LANGUAGES[1:] if languages is None else tuple(languages)
    return [PACKS / f"{code}.yml" for code in wanted if (PACKS / f"{code}.yml").exists()]


def load_rules(
    *paths: Path,
    registry: Path | None = DEFAULT_REGISTRY,
    actions: Mapping[str, str] | None = None,
    unknown_language: str = "hold",
    deferred: Iterable[Path] = (),
    second_opinion: bool = True,
) -> RuleSet:
    """Load packs (default: every shipped pack) with the product registry's vocabulary;
    `deferred` packs (other languages') are loaded when first needed."""
    products = load_registry(registry) if registry is not None else None
    vocabulary = {**drug_vocabulary(), **(products.vocabulary() if products else {})}
    later = [_deferred(path, vocabulary) for path in deferred if path not in paths]
    files = paths or tuple(sorted(PACKS.glob("*.yml")))
    if SAFETY not in files:
        files = (*files, SAFETY)  # never optional
    rules = [rule for path in files for rule in load_pack(path, vocabulary)]
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        raise RuleError(f"rule ids repeat across packs: {repeated}")
    overrides: dict[str, Outcome] = {}
    for category, outcome in (actions or {}).items():
        if category not in CATEGORIES:
            raise RuleError(f"actions: unknown category {category!r}")
        overrides[category] = _outcome(outcome, f"actions: {category}")
    unknown = _outcome(unknown_language, "unknown_language")
    built = RuleSet(rules, products, overrides, unknown_language=unknown, deferred=later)
    built.second_opinion = second_opinion
    return built


def _outcome(value: str, setting: str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError as exc:
        raise RuleError(f"{setting}: unknown outcome {value!r}") from exc


_HEAD = re.compile(r"^(pack|version|language):\s*(\S+)", re.MULTILINE)


def _deferred(path: Path, vocabulary: dict[str, list[str]]) -> Deferred:
    """A pack to load later, named from its head (`pack`, `version`, `language` lines)."""
    try:
        head = dict(_HEAD.findall(path.read_text(encoding="utf-8")[:4000]))
    except OSError as exc:
        raise RuleError(f"{path}: {exc}") from exc
    language = head.get("language", "en")
    if language not in LANGUAGES or language == "en":
        raise RuleError(f"{path}: a deferred pack names another language (language: xx)")
    label = f"{head.get('pack', path.stem)}@{head.get('version', 0)}"
    return Deferred(path, language, label, partial(load_pack, path, vocabulary))


@cache
def drug_vocabulary(path: Path = DRUGS) -> dict[str, list[str]]:
    """`${drugs}` (brand and generic names of marketed medicines) and `${drug_classes}`."""
    names = marketed(path)
    return {
        # One named list (`\L<...>`), matched as a set: hundreds of names compiled into
        # every pattern that mentions a drug made loading the rules take seconds.
        "drugs": [rf"\b{named(names, 'drugs')}\b"],
        "drug_classes": [rf"\b(?:{c})\b" for c in drug_list(path)["classes"]] or [r"(?!x)x"],
    }


@cache
def default_rules() -> RuleSet:
    """The default pack and the other languages' packs with the example product registry,
    as a new installation has."""
    return load_rules(pack_path("default"), deferred=language_packs())


def check(text: str, rules: RuleSet | None = None, *, timeout: float = TIMEOUT) -> Result:
    """Check `text`; findings point into `text` as given, markup and all.

    A text the rules cannot finish with in `timeout` seconds (a hostile one, built to make
    a pattern backtrack) is held for a person to read, marked incomplete.
    """
    ruleset = rules or default_rules()  # loaded (once) before the clock starts
    try:
        return _check(text, ruleset, time.monotonic() + timeout)
    except (TimeoutError, RuleError):
        # Out of time, or a language's pack that would not load: a person reads it.
        return Result(Outcome.HOLD, (), incomplete=True)


def _check(text: str, ruleset: RuleSet, deadline: float) -> Result:
    if time.monotonic() >= deadline:
        raise TimeoutError("no time to check")
    start_clock()
    # Loading confusables, language model, packs or weights (once) is not the text's time.
    many = len(ruleset.languages) > 1
    loading = time.monotonic()
    opinion = second_opinion.shipped() if ruleset.second_opinion else None
    evasion.warm()
    if many:
        language.warm()
    deadline += time.monotonic() - loading
    norm = normalise(text)
    unevaded = evasion.unevade(norm, deadline)
    views = (norm,) if unevaded is None else (norm, unevaded)
    seen = (
        language.detect(views[-1].text, ruleset.languages, deadline) if many else language.ENGLISH
    )
    loading = time.monotonic()
    parts = [ruleset.part(lang) for lang in sorted(seen.found)]
    deadline += time.monotonic() - loading
    findings: list[Finding] = []
    for part in (p for p in parts if p is not None):
        for view in views:
            findings.extend(_findings(text, view, part, deadline))
    read = fold(views[-1].text)  # as the rules read it, for the medicines it names
    english = seen.found == language.ENGLISH.found
    findings = suspect.not_cases(text, read, findings, ruleset.drug_names, english)
    findings = offlabel.with_outcome(text, findings)  # off-label use and what came of it
    if seen.unknown:
        findings.append(language.unknown(seen.unknown, text, ruleset.unknown_language))
    if opinion is not None:  # categories the rules did not find, in the text they read
        found = frozenset(f.category for f in findings)
        findings += opinion.findings(text, found, read, deadline, ruleset.drug_names)
    if not findings:
        return _PASSED
    findings = _dedupe(findings)
    outcome = max((f.outcome for f in findings), key=lambda o: o.rank, default=Outcome.PASS)
    return Result(outcome, tuple(findings))


def _findings(text: str, norm: Normalised, ruleset: RuleSet, deadline: float) -> list[Finding]:
    """What the rules of one language find in one reading of the text."""
    this, spans, named = _matches(norm.text, ruleset, deadline)
    findings: list[Finding] = []
    for i, found in spans.items():
        rule = ruleset.rules[i]
        hits = confirm(rule, this, found) if found else []
        if rule.category == "off_label":  # sent to Medical Information, or the label's limit
            hits = [h for h in hits if not offlabel.label_kept(this.text, h.start, h.end)]
        if not hits:
            continue
        suggestion = _suggest(rule, this) if rule.swaps else None
        outcome = ruleset.outcome_of(rule)
        for hit in hits:
            start, end = norm.span(hit.start, hit.end)
            findings.append(
                Finding(
                    rule.id,
                    rule.category,
                    outcome,
                    start,
                    end,
                    rule.message,
                    suggestion,
                    match=text[start:end],
                    cites=rule.cites,
                    context=hit.context,
                    pack=rule.pack,
                )
            )
    if ruleset.registry is not None:
        outcome = ruleset.actions.get("off_label", Outcome.HOLD)
        findings.extend(ruleset.off_label.findings(text, norm.span, this, named, outcome))
    return findings


def _matches(
    plain: str, ruleset: RuleSet, deadline: float
) -> tuple[Text, dict[int, list[tuple[int, int]]], list[int] | None]:
    """The text to confirm hits in; where each rule that may fire matches in it, in rule
    order; and the products (by number) whose names may be in it (None: all may be)."""
    compiled = ruleset.compiled
    rules = ruleset.rules
    if compiled is None:
        this = Text(plain, deadline)
        return this, {i: everywhere(rule.pattern, this) for i, rule in enumerate(rules)}, None
    folded = fold(plain)
    tries, fallbacks, hits, found = compiled.scan(folded, deadline)
    this = Text(plain, deadline, compiled, hits, folded)
    for i, j, pattern, _, places in fallbacks:  # at its literals, or wherever it matches
        starts = places.find(folded) if places else starts_of(pattern, this)
        tries += [(i, at, j) for at in starts]
    this.tick()
    tries.sort()
    spans = anchored(compiled.patterns, this, tries)
    if compiled.whole:
        for i in compiled.whole:
            spans[i] = everywhere(rules[i].pattern, this)
        spans = dict(sorted(spans.items()))
    return this, spans, compiled.named(found)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per category and stretch of text: overlapping ones say the same thing."""
    kept: dict[str, list[Finding]] = {}  # by category, and (below) the furthest end kept
    reach: dict[str, int] = {}
    # The registry knows the product's label, so its finding explains more than a pack's.
    ranked = sorted(findings, key=lambda f: (f.rule != OFF_LABEL_RULE, f.start, f.start - f.end))
    for f in ranked:
        same = kept.setdefault(f.category, [])
        # (Latest first: in a text of hundreds of findings, each overlaps the last kept.)
        if reach.get(f.category, -1) <= f.start or not any(
            g.start < f.end and f.start < g.end for g in reversed(same)
        ):
            same.append(f)
            reach[f.category] = max(reach.get(f.category, -1), f.end)
    return sorted((f for same in kept.values() for f in same), key=lambda f: (f.start, f.rule))


def _suggest(rule: Rule, text: Text) -> str:
    suggestion = text.text
    for pattern, replacement in rule.swaps:
        timeout = text.budget()
        suggestion = (
            pattern.sub(replacement, suggestion)
            if timeout is None
            else pattern.sub(replacement, suggestion, timeout=timeout)
        )
    return suggestion


def redact(text: str, result: Result) -> str:
    """`text` with patient identifiers replaced by their type, for storage. The second
    opinion's finding spans the whole text, not an identifier: a reviewer must read it."""
    spans = sorted(
        (f.start, f.end)
        for f in result.findings
        if f.category in _PII_CATEGORIES and f.pack != second_opinion.PACK
    )
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out = text
    for start, end in reversed(merged):
        out = out[:start] + "[patient identifier]" + out[end:]
    return out

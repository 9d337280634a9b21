"""Load and validate YAML rule packs; a pack with any problem refuses to load."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml

from compliance_rules.literals import literal_gate
from compliance_rules.model import CATEGORIES, Outcome, RuleError
from compliance_rules.pattern import Regex

_RULE_KEYS = {
    "id",
    "category",
    "type",
    "outcome",
    "message",
    "patterns",
    "swap",
    "exceptions",
    "requires_nearby",
    "nearby_scope",
    "case_sensitive",
    "must_match",
    "must_not_match",
    "cites",
}
_REQUIRED = {"id", "category", "type", "outcome", "message", "must_match", "must_not_match"}
_PACK_KEYS = {"pack", "version", "language", "vocabulary", "rules"}
# The languages a pack may be written for (ISO 639-1); a text is checked by the packs of
# every language found in it, and English always.
LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "ja", "zh", "nl", "pl")
SCOPES = ("clause", "sentence", "text")  # the values of a rule's `nearby_scope`
# libyaml's safe loader when PyYAML has it (several times faster), else the Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SHIPPED = (Path(__file__).parent / "packs").resolve()  # the packs that come with Plaudit
_VOCAB = re.compile(r"\$\{(\w+)\}")
# What keeps a rule's patterns from being tried one by one: a numbered back-reference or a
# global flag means something else inside the alternation than alone.
NOT_ALONE = re.compile(r"\\[1-9]|\\g<|\(\?P[=>]|\(\?&|\(\?[a-zA-Z0-9+-]+\)")


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    kind: str  # existence | substitution
    outcome: Outcome
    message: str
    expression: str  # the rule's patterns as one alternation, vocabulary expanded
    swaps: tuple[tuple[Regex, str], ...]
    exceptions: tuple[Regex, ...]
    nearby: Regex | None
    cites: str | None
    must_match: tuple[str, ...]
    must_not_match: tuple[str, ...]
    source: str
    pack: str
    # Each pattern on its own, with its gate: the rule set's scan finds where each may
    # match. At one place, the rule's match is that of its first pattern matching there.
    parts: tuple[tuple[Regex, frozenset[str] | None], ...] = ()
    language: str = "en"  # the language of the text the rule reads (its pack's)
    flags: int = 0
    # A pack shipped with Plaudit: its examples are proven by the test suite and when the
    # rules are warmed, not at every load (a pack of the company's own is, as it loads).
    shipped: bool = False
    # Where `requires_nearby` context is looked for: the hit's clause (the default), its
    # sentence, or the whole text (`SCOPES`).
    scope: str = "clause"

    @cached_property
    def pattern(self) -> Regex:
        """The alternation of the rule's patterns: the scan tries each pattern on its own,
        so most rules never need it."""
        if len(self.parts) == 1:
            return self.parts[0][0]
        return Regex(self.expression, self.flags)

    def compile(self) -> None:
        """Compile every pattern of the rule now (RuleError naming the rule if one is bad)."""
        patterns = [
            *(p for p, _ in self.parts),
            *(p for p, _ in self.swaps),
            *self.exceptions,
            *((self.nearby,) if self.nearby is not None else ()),
        ]
        if NOT_ALONE.search(self.expression):
            patterns.append(self.pattern)  # its parts are tried together
        try:
            for pattern in patterns:
                _ = pattern.compiled
        except RuleError as exc:
            raise RuleError(f"{self.source}: rule {self.id}: {exc}") from exc


def read_yaml(path: Path) -> Any:
    """A YAML file's content, or a RuleError naming the file."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except FileNotFoundError as exc:
        raise RuleError(f"{path}: file not found") from exc
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleError(f"{path}: invalid YAML: {exc}") from exc


def load_pack(path: Path, extra_vocabulary: dict[str, list[str]] | None = None) -> list[Rule]:
    """A pack's rules, compiled. Compiling is most of the cost of loading, and rules are
    immutable, so a pack loaded before (same file, unchanged, same vocabulary) is reused."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise RuleError(f"{path}: file not found") from exc
    words = tuple(sorted((k, tuple(v)) for k, v in (extra_vocabulary or {}).items()))
    return list(_load_pack(str(path), stat.st_mtime_ns, stat.st_size, words))


def clear_caches() -> None:
    """Forget the packs read so far (they are read again from their files)."""
    _load_pack.cache_clear()


@lru_cache(maxsize=64)
def _load_pack(
    name: str, mtime: int, size: int, words: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[Rule, ...]:
    return tuple(_read_pack(Path(name), {k: list(v) for k, v in words}))


def _read_pack(path: Path, extra_vocabulary: dict[str, list[str]]) -> list[Rule]:
    raw = read_yaml(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
        raise RuleError(f"{path}: a pack is a mapping with a `rules` list")
    unknown = set(raw) - _PACK_KEYS
    if unknown:
        raise RuleError(f"{path}: unknown pack key(s) {sorted(unknown)}")
    vocabulary = raw.get("vocabulary") or {}
    if not isinstance(vocabulary, dict) or not all(
        isinstance(v, list) and all(isinstance(w, str) for w in v) for v in vocabulary.values()
    ):
        raise RuleError(f"{path}: vocabulary maps names to lists of regexes")
    merged = {**(extra_vocabulary or {}), **vocabulary}
    words = {name: "(?:" + "|".join(terms) + ")" for name, terms in merged.items()}
    # A vocabulary entry may use another (`rival: ["${competitors}", ...]`), a few levels deep.
    for _ in range(3):
        words = _expand_vocabulary(words)
    pack = f"{raw.get('pack', path.stem)}@{raw.get('version', 0)}"
    language = str(raw.get("language", "en"))
    if language not in LANGUAGES:
        raise RuleError(f"{path}: language {language!r} is not one of {', '.join(LANGUAGES)}")
    shipped = path.resolve().parent == SHIPPED
    rules = [_rule(path, entry, words, pack, language, shipped) for entry in raw["rules"]]
    ids = [r.id for r in rules]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise RuleError(f"{path}: duplicate rule id(s) {sorted(duplicates)}")
    return rules


def _expand_vocabulary(words: dict[str, str]) -> dict[str, str]:
    """Each entry with the `${name}`s in it replaced by those entries (unknown ones kept)."""
    return {
        name: _VOCAB.sub(lambda m: words.get(m.group(1), m.group(0)), value)
        for name, value in words.items()
    }


def _rule(
    path: Path, entry: Any, words: dict[str, str], pack: str, language: str, shipped: bool
) -> Rule:
    if not isinstance(entry, dict):
        raise RuleError(f"{path}: every rule is a mapping")
    rule_id = str(entry.get("id", "<no id>"))

    def fail(problem: str) -> RuleError:
        return RuleError(f"{path}: rule {rule_id}: {problem}")

    outcome = _checked_entry(entry, fail)
    kind = entry["type"]
    flags = 0 if entry.get("case_sensitive") else re.IGNORECASE

    def expand_(source: str, what: str) -> str:
        def expand(m: re.Match[str]) -> str:
            if m.group(1) not in words:
                raise fail(f"{what}: unknown vocabulary ${{{m.group(1)}}}")
            return words[m.group(1)]

        return _VOCAB.sub(expand, source)

    def compile_(source: str, what: str) -> Regex:
        # The `regex` engine, because it can stop a search that runs too long; compiled
        # when first used (a pack of the company's own: when proven, as it loads).
        return Regex(expand_(source, what), flags)

    patterns = _patterns(entry, fail)
    swap = entry.get("swap") or {}  # none in an existence rule
    swaps = tuple((compile_(str(k), "swap"), str(v)) for k, v in swap.items())
    whole = "|".join(f"(?:{p})" for p in patterns)
    expression = expand_(whole, "patterns")
    compiled_parts = [compile_(str(p), "patterns") for p in patterns]
    parts = tuple((c, literal_gate(c)) for c in compiled_parts)
    nearby_list = entry.get("requires_nearby") or []
    nearby = (
        compile_("|".join(f"(?:{p})" for p in nearby_list), "requires_nearby")
        if nearby_list
        else None
    )
    exceptions = tuple(compile_(str(e), "exceptions") for e in entry.get("exceptions") or [])
    examples = {k: entry[k] for k in ("must_match", "must_not_match")}
    for key, value in examples.items():
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise fail(f"`{key}` is a non-empty list of example texts")
    return Rule(
        id=rule_id,
        category=str(entry["category"]),
        kind=kind,
        outcome=outcome,
        message=str(entry["message"]),
        expression=expression,
        swaps=swaps,
        exceptions=exceptions,
        nearby=nearby,
        cites=entry.get("cites"),
        must_match=tuple(examples["must_match"]),
        must_not_match=tuple(examples["must_not_match"]),
        source=str(path),
        pack=pack,
        parts=parts,
        language=language,
        flags=flags,
        shipped=shipped,
        scope=str(entry.get("nearby_scope", "clause")),
    )


def _checked_entry(entry: dict[str, Any], fail: Callable[[str], RuleError]) -> Outcome:
    """A rule's outcome, once its keys, category and regex lists are known to be right."""
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        raise fail(f"unknown key(s) {sorted(unknown)}")
    missing = _REQUIRED - set(entry)
    if missing:
        raise fail(f"missing {sorted(missing)}")
    if entry["category"] not in CATEGORIES:
        raise fail(f"unknown category {entry['category']!r} (one of {', '.join(CATEGORIES)})")
    try:
        outcome = Outcome(entry["outcome"])
    except ValueError as exc:
        raise fail(f"unknown outcome {entry['outcome']!r}") from exc
    scope = entry.get("nearby_scope", "clause")
    if scope not in SCOPES:
        raise fail(f"nearby_scope {scope!r} is not one of {', '.join(SCOPES)}")
    if "nearby_scope" in entry and not entry.get("requires_nearby"):
        raise fail("nearby_scope says where requires_nearby is looked for; this rule has none")
    for key in ("patterns", "exceptions", "requires_nearby"):
        for item in entry.get(key) or []:
            if not isinstance(item, str):
                # YAML reads `- a(?: b)` as a mapping; the fix is quoting the regex.
                raise fail(f"{key}: {item!r} is not a string (quote regexes containing ': ')")
    return outcome


def _patterns(entry: dict[str, Any], fail: Callable[[str], RuleError]) -> list[Any]:
    """The patterns of an existence rule, or those a substitution rule swaps."""
    kind = entry["type"]
    if kind == "existence":
        patterns = entry.get("patterns")
        if not isinstance(patterns, list) or not patterns or "swap" in entry:
            raise fail("an existence rule has a non-empty `patterns` list and no `swap`")
        return patterns
    if kind == "substitution":
        swap = entry.get("swap")
        if not isinstance(swap, dict) or not swap or "patterns" in entry:
            raise fail("a substitution rule has a non-empty `swap` map and no `patterns`")
        return list(swap)
    raise fail(f"unknown type {kind!r} (existence or substitution)")

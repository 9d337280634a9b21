"""Load and validate YAML rule packs; a pack with any problem refuses to load."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from re import _constants as _c  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

import regex
import yaml

from compliance_rules.model import CATEGORIES, Outcome, RuleError

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
    "case_sensitive",
    "must_match",
    "must_not_match",
    "cites",
}
_REQUIRED = {"id", "category", "type", "outcome", "message", "must_match", "must_not_match"}
_PACK_KEYS = {"pack", "version", "vocabulary", "rules"}
_VOCAB = re.compile(r"\$\{(\w+)\}")


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    kind: str  # existence | substitution
    outcome: Outcome
    message: str
    pattern: regex.Pattern[str]
    swaps: tuple[tuple[regex.Pattern[str], str], ...]
    exceptions: tuple[regex.Pattern[str], ...]
    nearby: regex.Pattern[str] | None
    cites: str | None
    must_match: tuple[str, ...]
    must_not_match: tuple[str, ...]
    source: str
    pack: str
    # Lower-case literals one of which every match starts with; None when not derivable.
    gate: frozenset[str] | None = None


def read_yaml(path: Path) -> Any:
    """A YAML file's content, or a RuleError naming the file."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RuleError(f"{path}: file not found") from exc
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleError(f"{path}: invalid YAML: {exc}") from exc


def load_pack(path: Path, extra_vocabulary: dict[str, list[str]] | None = None) -> list[Rule]:
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
    pack = f"{raw.get('pack', path.stem)}@{raw.get('version', 0)}"
    rules = [_rule(path, entry, words, pack) for entry in raw["rules"]]
    ids = [r.id for r in rules]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise RuleError(f"{path}: duplicate rule id(s) {sorted(duplicates)}")
    return rules


def _rule(path: Path, entry: Any, words: dict[str, str], pack: str) -> Rule:
    if not isinstance(entry, dict):
        raise RuleError(f"{path}: every rule is a mapping")
    rule_id = str(entry.get("id", "<no id>"))

    def fail(problem: str) -> RuleError:
        return RuleError(f"{path}: rule {rule_id}: {problem}")

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
    kind = entry["type"]
    flags = 0 if entry.get("case_sensitive") else re.IGNORECASE

    def compile_(source: str, what: str) -> regex.Pattern[str]:
        def expand(m: re.Match[str]) -> str:
            if m.group(1) not in words:
                raise fail(f"{what}: unknown vocabulary ${{{m.group(1)}}}")
            return words[m.group(1)]

        try:
            # The `regex` engine, because it can stop a search that runs too long.
            return regex.compile(_VOCAB.sub(expand, source), flags | regex.VERSION0)
        except regex.error as exc:
            raise fail(f"{what}: bad regex {source!r}: {exc}") from exc

    swaps: tuple[tuple[regex.Pattern[str], str], ...] = ()
    for key in ("patterns", "exceptions", "requires_nearby"):
        for item in entry.get(key) or []:
            if not isinstance(item, str):
                # YAML reads `- a(?: b)` as a mapping; the fix is quoting the regex.
                raise fail(f"{key}: {item!r} is not a string (quote regexes containing ': ')")
    if kind == "existence":
        patterns = entry.get("patterns")
        if not isinstance(patterns, list) or not patterns or "swap" in entry:
            raise fail("an existence rule has a non-empty `patterns` list and no `swap`")
    elif kind == "substitution":
        swap = entry.get("swap")
        if not isinstance(swap, dict) or not swap or "patterns" in entry:
            raise fail("a substitution rule has a non-empty `swap` map and no `patterns`")
        swaps = tuple((compile_(str(k), "swap"), str(v)) for k, v in swap.items())
        patterns = list(swap)
    else:
        raise fail(f"unknown type {kind!r} (existence or substitution)")
    pattern = compile_("|".join(f"(?:{p})" for p in patterns), "patterns")
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
        pattern=pattern,
        swaps=swaps,
        exceptions=exceptions,
        nearby=nearby,
        cites=entry.get("cites"),
        must_match=tuple(examples["must_match"]),
        must_not_match=tuple(examples["must_not_match"]),
        source=str(path),
        pack=pack,
        gate=literal_gate(pattern),
    )


def literal_gate(pattern: regex.Pattern[str]) -> frozenset[str] | None:
    """Literals of 2+ characters one of which is in every match of the pattern.

    A text containing none of them (lower-cased) cannot match, so the rule is skipped.
    """
    # Literals are compared lower-cased with the lower-cased text, which is right for a
    # case-blind pattern and still a safe test for a case-sensitive one.
    try:
        tree = _parser.parse(pattern.pattern, pattern.flags & regex.IGNORECASE)
    except re.error:
        return None
    found = _prefixes(list(tree), 6)
    if not found or any(len(p) < 2 for p in found):
        return None
    return frozenset(p.lower() for p in found)


def _prefixes(items: list[Any], budget: int, start: bool = True) -> set[str] | None:
    """Literal texts (up to `budget` characters) one of which is in every match of `items`.

    Each is a contiguous run; `start` says nothing comes before it, which lets an optional
    part be passed over (what follows it is in the match either way). An empty string means
    "nothing certain from here on"; None means "cannot tell".
    """
    index = 0
    while index < len(items) and items[index][0] is _c.AT:
        index += 1
    if index == len(items) or budget == 0:
        return {""}
    op, arg = items[index]
    rest = items[index + 1 :]
    if op is _c.LITERAL:
        tail = _prefixes(rest, budget - 1, False)
        return None if tail is None else {chr(arg) + t for t in tail}
    if op is _c.SUBPATTERN:
        return _prefixes(list(arg[3]) + rest, budget, start)
    if op is _c.BRANCH:
        found: set[str] = set()
        for branch in arg[1]:
            sub = _prefixes(list(branch) + rest, budget, start)
            if sub is None:
                return None
            found |= sub
        return found if len(found) <= 200 else None
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        once = _prefixes(list(arg[2]) + rest, budget, start)
        if arg[0] >= 1 or once is None:
            return once
        skipped = _prefixes(rest, budget, start)
        if skipped is None:
            return None
        if start and all(len(p) >= 2 for p in skipped):
            return skipped
        return once | skipped
    if op is _c.IN and 0 < len(arg) <= 6 and all(kind is _c.LITERAL for kind, _ in arg):
        # A small set of characters, e.g. [Pp] or [i1!*]: one prefix per character.
        tail = _prefixes(rest, budget - 1, False)
        if tail is None:
            return None
        return {chr(code) + t for _, code in arg for t in tail}
    return {""}

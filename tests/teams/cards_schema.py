"""Plaudit's cards against the official Adaptive Cards 1.5 schema (../shared/specs, MIT) and
Teams' limit on an activity's size; the two extensions Teams documents outside the schema
(`msteams` mention entities, the people picker's `choices.data`) are checked for the shape
Teams documents and taken out before the schema sees the card."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest

CARD_SCHEMA = (
    Path(__file__).resolve().parents[3] / "shared/specs/adaptivecards/adaptive-card-1.5.json"
)
CARD_SCHEMA_ABSENT = (
    "../shared/specs/adaptivecards/adaptive-card-1.5.json is not present (it ships separately)"
)
CARD = "application/vnd.microsoft.card.adaptive"
# Teams refuses an activity over 28 KB (413 MessageSizeTooBig), JSON as the client sends it.
MAX_ACTIVITY = 28 * 1024
# The people picker's data sets (Teams: "People Picker in Adaptive Cards").
PICKER_DATASETS = {"graph.microsoft.com/users", "graph.microsoft.com/users?scope=currentContext"}


def load_validator() -> jsonschema.protocols.Validator | None:
    if not CARD_SCHEMA.is_file():
        return None
    schema = json.loads(CARD_SCHEMA.read_text(encoding="utf-8"))
    validator: jsonschema.protocols.Validator = jsonschema.validators.validator_for(schema)(schema)
    return validator


def require_validator() -> jsonschema.protocols.Validator:
    """The schema's validator; the test is skipped, saying why, where the schema is absent."""
    validator = load_validator()
    if validator is None:
        pytest.skip(reason=CARD_SCHEMA_ABSENT)
    return validator


def _elements(items: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for item in items:
        if not isinstance(item, dict):
            continue
        yield item
        yield from _elements(item.get("items") or [])
        for column in item.get("columns") or []:
            yield from _elements([column])


def _without_extensions(content: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The card as the schema knows it, and what is wrong with Teams' extensions in it."""
    card = copy.deepcopy(dict(content))
    problems: list[str] = []
    extension = card.pop("msteams", None)
    body = json.dumps(card.get("body") or [], ensure_ascii=False)
    for entity in (extension or {}).get("entities", []):
        mentioned = entity.get("mentioned") or {}
        if entity.get("type") != "mention" or not mentioned.get("id") or not mentioned.get("name"):
            problems.append(f"msteams: not a mention entity: {entity}")
        elif entity.get("text") not in body:
            problems.append(f"msteams: {entity.get('text')!r} is in no text of the card")
    for element in _elements(card.get("body") or []):
        data = element.pop("choices.data", None)
        if data is None:
            continue
        if element.get("type") != "Input.ChoiceSet":
            problems.append(f"choices.data on a {element.get('type')}")
        if set(data) != {"type", "dataset"} or data.get("type") != "Data.Query":
            problems.append(f"choices.data is not a Data.Query: {data}")
        elif data["dataset"] not in PICKER_DATASETS:
            problems.append(f"choices.data: no such data set {data['dataset']!r}")
    return card, problems


def card_problems(
    content: Mapping[str, Any], validator: jsonschema.protocols.Validator
) -> list[str]:
    """Where one card strays from the schema, from Teams' extensions, or from Teams' size
    limit (an empty list when it keeps to all three)."""
    card, problems = _without_extensions(content)
    for error in validator.iter_errors(card):
        where = "/".join(str(p) for p in error.absolute_path)
        problems.append(f"{where}: {error.message[:300]}")
    size = len(
        json.dumps({"type": "message", "attachments": [{"contentType": CARD, "content": content}]})
    )
    if size > MAX_ACTIVITY:
        problems.append(f"{size} bytes: over Teams' {MAX_ACTIVITY}")
    return problems


def cards_in(rendered: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Adaptive Cards of rendered activity fields (or of an activity)."""
    if rendered.get("type") == "AdaptiveCard":
        return [dict(rendered)]
    return [a["content"] for a in rendered.get("attachments") or [] if a["contentType"] == CARD]


def as_shown(markdown: str) -> str:
    """Teams markdown as Teams shows it, as far as escapes go: `\\x` shows `x`."""
    return re.sub(r"\\(.)", r"\1", markdown, flags=re.DOTALL)

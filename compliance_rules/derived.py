"""What the shipped patterns' regexes say, read once and shipped beside the packs.

Loading the rules reads every pattern's regex for the literals its matches contain or start
with, what else they need and whether a match may be empty (`literals.py`, `required.py`):
parsing a thousand regexes is most of a start's time. Those facts depend on the pattern's
source and flags alone, so they are worked out when the packs change and kept in
`derived.json.gz`; a pattern the file does not hold (a pack of one's own, a rule changed
since) is read from its regex as before, so a stale file costs time, never a wrong answer.

    python scripts/write_derived.py        # write the file again after changing a pack

`tests/compliance/test_derived.py` fails when the file is stale or disagrees with what the
regexes say on the running Python.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

PATH = Path(__file__).with_name("derived.json.gz")
VERSION = 1
KINDS = ("gate", "start", "empty", "needs")

T = TypeVar("T")
_recording: dict[str, dict[str, Any]] | None = None
_MISSING = object()
_lock = threading.Lock()


def _encode(value: Any, sets: dict[frozenset[str], int]) -> Any:
    """A frozenset as its number in the file's list of sets (each set is stored once: a
    list of drug names is what many patterns need); a tuple as a list; None and booleans
    as they are."""
    if isinstance(value, frozenset):
        return sets.setdefault(value, len(sets))
    if isinstance(value, tuple):
        return [_encode(v, sets) for v in value]
    return value


def _decoder(kind: str, sets: list[frozenset[str]]) -> Callable[[Any], Any]:
    if kind == "empty":
        return bool
    if kind == "needs":
        return lambda value: tuple(sets[v] for v in value)
    return lambda value: None if value is None else sets[value]


@functools.cache
def table() -> dict[str, Callable[[str], tuple[bool, Any]]]:
    """Look-ups of the shipped facts by kind: key to (found, value). Empty when the file is
    missing or of another version (everything is then read from the regexes)."""
    try:
        with gzip.open(PATH, "rt", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    try:
        sets = [frozenset(map(str, s)) for s in data["sets"]]
        return {kind: _lookup(dict(data[kind]), _decoder(kind, sets)) for kind in KINDS}
    except (KeyError, TypeError, ValueError):  # a damaged file: read every regex instead
        return {}


def _lookup(
    known: dict[str, Any], decode: Callable[[Any], Any]
) -> Callable[[str], tuple[bool, Any]]:
    def find(key: str) -> tuple[bool, Any]:
        stored = known.get(key, _MISSING)
        return (False, None) if stored is _MISSING else (True, decode(stored))

    return find


def key_of(*args: Any) -> str:
    """A short stable key for a pattern's source and flags (the sources themselves would
    make the file as large as the packs, several times over)."""
    raw = json.dumps(args, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def shipped(kind: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Answer `fn(*args)` from the shipped table when it holds it, else by calling `fn`."""

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def answer(*args: Any) -> T:
            key = key_of(*args)
            find = table().get(kind)
            if _recording is None and find is not None:
                found, value = find(key)
                if found:
                    return value  # type: ignore[no-any-return]
            value = fn(*args)
            if _recording is not None:
                _recording[kind][key] = value
            return value

        return answer

    return wrap


def derive() -> dict[str, Any]:
    """Every fact loading and warming the shipped rules asks for, read from the regexes."""
    global _recording
    from compliance_rules.engine import language_packs, load_rules, pack_path

    with _lock:
        _recording = {kind: {} for kind in KINDS}
        try:
            _clear()
            for packs in (["default"], ["default", "eu"]):  # as shipped, and with the EU pack
                paths = [pack_path(name) for name in packs]
                load_rules(*paths, deferred=language_packs()).warm()
            found = _recording
        finally:
            _recording = None
            _clear()
    sets: dict[frozenset[str], int] = {}
    encoded = {
        kind: {key: _encode(found[kind][key], sets) for key in sorted(found[kind])}
        for kind in KINDS
    }
    return {"version": VERSION, "sets": [sorted(s) for s in sets], **encoded}


def _clear() -> None:
    """Forget every pack and regex reading already made in this process."""
    from compliance_rules import literals, packs, required

    literals.clear_caches()
    required.clear_caches()
    packs.clear_caches()


def write(path: Path = PATH) -> dict[str, Any]:
    data = derive()
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(body.encode("utf-8"))
    table.cache_clear()
    return data

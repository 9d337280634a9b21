"""What the benchmark scripts share: their `RESULT {json}` lines and clean exits."""

from __future__ import annotations

import json
import math
import signal
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PREFIX = "RESULT "
KEYS = ("metric", "plaudit", "peer", "ratio", "target", "pass")


def emit(
    metric: str,
    plaudit: float,
    peer: float | None,
    target: str,
    passed: bool,
    *,
    ratio: float | None = None,
) -> None:
    """Print one machine-readable result; `ratio` defaults to plaudit / peer."""
    if ratio is None and peer:
        ratio = plaudit / peer
    row = {
        "metric": metric,
        "plaudit": _round(plaudit),
        "peer": None if peer is None else _round(peer),
        "ratio": None if ratio is None else _round(ratio),
        "target": target,
        "pass": bool(passed),
    }
    print(PREFIX + json.dumps(row), flush=True)


def parse(line: str) -> dict[str, Any] | None:
    """The result on a `RESULT {json}` line, or None for any other line."""
    if not line.startswith(PREFIX):
        return None
    try:
        row = json.loads(line[len(PREFIX) :])
    except json.JSONDecodeError:
        return None
    if not isinstance(row, dict) or any(key not in row for key in KEYS):
        return None
    return row


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks stop servers and drop schemas."""

    def handler(_signum: int, _frame: object) -> None:
        sys.exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)


def _round(value: float) -> float:
    """Four significant digits, and at least one decimal, are plenty for a benchmark figure."""
    if isinstance(value, int) or value == 0 or not math.isfinite(value):
        return value
    return round(value, max(1, 3 - math.floor(math.log10(abs(value)))))


@contextmanager
def private_schema(url: str) -> Iterator[tuple[str, Any]]:
    """A new PostgreSQL schema on `url` for one benchmark run, dropped afterwards, so a
    run never touches the database's own tables; yields its name and the URL as the
    project's engines read it."""
    from sqlalchemy import text

    from storage.db import make_engine

    schema = f"plaudit_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema, admin.url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        print(f"dropped schema {schema}")

"""Signed checkpoints of the audit trail, published outside the database and read back.

Each checkpoint goes to the log, to `checkpoint.json` in `PLAUDIT_AUDIT_CHECKPOINTS` (the
newest, replaced atomically), to `checkpoints.jsonl` there (one line each) and to
`PLAUDIT_AUDIT_WEBHOOK` as JSON. The file of the newest is written at every seal; the log,
the history and the webhook at most every `every` seconds, so a busy trail does not write a
line a second. Whoever keeps a copy can later prove, with `plaudit audit verify
--checkpoint FILE`, that nothing sealed before it was changed or removed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from storage.audit import Checkpoint

log = logging.getLogger("plaudit.audit")
LATEST = "checkpoint.json"
HISTORY = "checkpoints.jsonl"
EVERY = 10.0


class Publisher:
    """Where checkpoints go besides the database."""

    def __init__(
        self,
        directory: Path | None = None,
        webhook: str | None = None,
        *,
        every: float = EVERY,
        http: requests.Session | None = None,
    ) -> None:
        self.directory = directory
        self.webhook = webhook
        self.every = every
        self._http = http or requests.Session()
        self._last = float("-inf")

    def publish(self, checkpoint: Checkpoint, *, now: bool = False) -> None:
        """Write `checkpoint` out; `now` skips the wait between history lines (at a stop,
        and when asked for on the command line)."""
        line = json.dumps(checkpoint.as_json(), sort_keys=True)
        if self.directory is not None:
            self._replace(self.directory / LATEST, line + "\n")
        due = now or time.monotonic() - self._last >= self.every
        if not due:
            return
        self._last = time.monotonic()
        log.info("audit checkpoint %s", line)
        if self.directory is not None:
            with (self.directory / HISTORY).open("a", encoding="utf-8") as history:
                history.write(line + "\n")
                history.flush()
                os.fsync(history.fileno())
        if self.webhook is not None:
            self._post(checkpoint)

    def close(self) -> None:
        self._http.close()

    def _replace(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        with partial.open("w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)

    def _post(self, checkpoint: Checkpoint) -> None:
        assert self.webhook is not None
        try:
            response = self._http.post(self.webhook, json=checkpoint.as_json(), timeout=5)
        except requests.RequestException as exc:
            log.warning("audit checkpoint not delivered to the webhook: %s", exc)
            return
        if response.status_code >= 300:
            log.warning("audit checkpoint webhook answered HTTP %s", response.status_code)


def read(path: Path) -> list[Checkpoint]:
    """The checkpoints in a file: one JSON object, JSON lines, or log lines that carry
    them; a directory means its `checkpoint.json` and `checkpoints.jsonl`. ValueError
    names a line that is none of these."""
    if path.is_dir():
        files = [p for p in (path / LATEST, path / HISTORY) if p.exists()]
        return [c for f in files for c in read(f)]
    text = path.read_text("utf-8")
    stripped = text.strip()
    if stripped.startswith("{") and "\n" in stripped:
        try:
            return [Checkpoint.from_json(json.loads(stripped))]
        except json.JSONDecodeError:
            pass  # JSON lines, read below
    return list(_lines(path, text))


def _lines(path: Path, text: str) -> Iterator[Checkpoint]:
    for number, raw in enumerate(text.splitlines(), start=1):
        start = raw.find("{")
        if start < 0:
            continue
        try:
            data = json.loads(raw[start:])
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        found = _within(data)
        if found is not None:
            yield found


def _within(data: object) -> Checkpoint | None:
    """The checkpoint a line carries: itself, or inside a JSON log line's message."""
    if isinstance(data, dict):
        if "origin" in data:
            return Checkpoint.from_json(data)
        for value in data.values():
            if isinstance(value, str) and "{" in value:
                with contextlib.suppress(json.JSONDecodeError):
                    found = _within(json.loads(value[value.find("{") :]))
                    if found is not None:
                        return found
    return None

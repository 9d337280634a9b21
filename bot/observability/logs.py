"""Process logging: text for terminals or one JSON object a line, with secrets and patient
identifiers redacted, and the id of the HTTP request each line was written for."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

from pydantic import SecretStr

from bot.settings import Settings

REDACTED = "[redacted]"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

request_id: ContextVar[str | None] = ContextVar("plaudit_request_id", default=None)
"""The id of the HTTP request being handled (set by the ASGI middleware in
`bot.observability.metrics`)."""

_MIN_SECRET = 6  # a shorter "secret" would redact ordinary words
_PATTERNS = (
    # Slack tokens, app-level tokens, and whatever follows "Bearer".
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]+"),
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),
    # Patient identifiers, as the compliance rules' PHI patterns find them (a cheap subset).
    re.compile(r"\b(?:MRN|medical record (?:number|no\.?|#))\s*[:#]?\s*\d{5,}\b", re.I),
    re.compile(
        r"\b(?:DOB|D\.O\.B\.|date of birth|born on)\s*[:#]?\s*\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b",
        re.I,
    ),
    re.compile(r"\b(?:patient|pt\.?|participant)\s*(?:id|#|no\.?)?\s*[:#]?\s*\d{3,}\b", re.I),
    # Phone numbers written with separators: +44 20 7946 0958, (555) 123-4567, 555.123.4567.
    re.compile(
        r"(?<![\w.:/-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])"
        r"\d{3,4}[\s.-]\d{3,4}(?![\w:/-]|\.\d)"
    ),
)
_BODY_LOGGERS = (
    "slack_sdk",
    "slack_bolt",
    "botbuilder",
    "botframework",
    "msrest",
    "msal",
    "aiohttp",
    "urllib3",
    "httpx",
    "httpcore",
    "requests",
    "uvicorn",
    "apscheduler",
)
# Loggers that bring their own handlers (uvicorn's dictConfig): theirs are removed, so every
# line goes through the one formatter on the root logger.
_OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# The Agents SDK writes a line at info for each Connector call and token it makes (and at
# debug its clients' headers): Plaudit logs what matters of these itself, so it writes
# warnings and errors only.
_ROUTINE_SDKS = ("microsoft_agents",)
# Lines written on every scheduled run (every 30 s): kept for debugging, not for the day.
_PER_RUN = ("apscheduler.executors.default",)
# Alembic's context lines, written each time the schema revision is read (every probe).
_ALEMBIC_CONTEXT = "alembic.runtime.migration"
_BEARER = re.compile(r"\b(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
_MARK = "_plaudit_handler"


class Redactor:
    """Replaces secrets and patient identifiers in text with `[redacted]`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        text = _BEARER.sub(r"\1" + REDACTED, text)
        for pattern in _PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text


class RedactingFilter(logging.Filter):
    """Redacts a record's message, arguments and traceback before any formatter sees them."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep the raw parts
            message = f"{record.msg} {record.args}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class _Handler(logging.Handler):
    """Writes to `stream`, or to whatever `sys.stderr` is when a line is written."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            stream = self.stream if self.stream is not None else sys.stderr
            stream.write(line + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


class _Demote(logging.Filter):
    """Writes a logger's INFO lines at DEBUG: they show only when Plaudit logs at debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


class _Quiet(logging.Filter):
    """Drops INFO lines written by a thread inside `quiet()`."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or not getattr(self.local, "on", False)


_QUIET = _Quiet()
logging.getLogger(_ALEMBIC_CONTEXT).addFilter(_QUIET)


@contextlib.contextmanager
def quiet_alembic() -> Iterator[None]:
    """Alembic's INFO lines left out while this thread reads the schema revision (a readiness
    probe every few seconds would otherwise write two lines each time)."""
    _QUIET.local.on = True
    try:
        yield
    finally:
        _QUIET.local.on = False


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, message, request_id, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic one-line format, with ` request_id=…` when a request is being handled."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = request_id.get()
        if not rid:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} request_id={rid}{newline}{rest}"


def configure(
    level: str,
    *,
    json_format: bool,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Install Plaudit's handler on the root logger (replacing one installed before).

    `secrets` are the configured credentials, redacted wherever they appear; `stream`
    defaults to standard error. Returns the handler."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    handler = _Handler(stream)
    setattr(handler, _MARK, True)
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    handler.addFilter(RedactingFilter(Redactor(secrets)))
    root.addHandler(handler)
    try:
        root.setLevel(level.upper())
    except ValueError:
        root.setLevel(logging.INFO)
    # The SDKs' debug lines print whole request and response bodies: every kudos text and
    # drug-safety report, with names no pattern can find. At debug they are held at info.
    for name in _BODY_LOGGERS:
        sdk = logging.getLogger(name)
        if sdk.level < logging.INFO:  # never lowered: SQLAlchemy's own is at warning
            sdk.setLevel(logging.INFO)
    for name in _ROUTINE_SDKS:
        logging.getLogger(name).setLevel(logging.WARNING)
    adopt_uvicorn()
    for name in _PER_RUN:
        per_run = logging.getLogger(name)
        if not any(isinstance(f, _Demote) for f in per_run.filters):
            per_run.addFilter(_Demote())
    return handler


def adopt_uvicorn() -> None:
    """uvicorn's loggers write through the root logger's handler (and so in Plaudit's text or
    JSON format) instead of handlers of their own (`plaudit serve` also keeps uvicorn from
    installing its own: `log_config=None`)."""
    for name in _OWN_HANDLERS:
        own = logging.getLogger(name)
        for old in list(own.handlers):
            own.removeHandler(old)
        if name != "uvicorn.access":  # off unless uvicorn is told otherwise (access_log)
            own.propagate = True


def secrets_of(settings: Settings) -> list[str]:
    """Every configured credential (each secret setting, and each PV key on its own), to be
    kept out of the logs: a secret added to the settings is covered without a list to keep."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
            found += [part for part in re.split(r"[\s,]+", value.get_secret_value()) if part]
    return found


def configure_from_environment() -> None:
    """Configure logging from PLAUDIT_LOG_LEVEL and PLAUDIT_LOG_FORMAT; text at info when the
    settings do not load (the command that needs them reports why)."""
    try:
        settings = Settings()
    except (ValueError, OSError):
        configure("info", json_format=False)
        return
    configure(
        settings.log_level,
        json_format=settings.log_format == "json",
        secrets=secrets_of(settings),
    )

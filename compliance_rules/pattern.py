"""A rule's regex, compiled the first time a text needs it.

Compiling every pattern of every pack is most of what loading rules costs, and most
patterns are never tried on most texts: the rule set's scan reads each pattern's literals
from its source, and tries a pattern only where they are. So a pattern is compiled when a
text first reaches it (or when the rules are proven or warmed), and the time that takes is
not counted against the text's own time budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import regex

from compliance_rules.lists import compile_pattern
from compliance_rules.model import RuleError

# Texts of the shape that makes a badly written pattern backtrack for ever (a run of one
# character or word, then one that does not fit), and how long a search of one may take.
_PROBES = tuple(
    unit * (200 // len(unit)) + "!"
    for unit in ("a", "1", " ", "a ", "a-", ". ", "ab1 ", "the ", "patient ")
)
_PROBE_SECONDS = 0.02
# Seconds any thread has spent compiling patterns (a check running while the rules warm in
# the background waits for that thread as much as for its own compiling), and, per thread,
# the total when its check started.
_compiled_seconds = [0.0]
_clock = threading.local()
_made: dict[tuple[str, int], Regex] = {}
_making = threading.Lock()


class Regex:
    """A `regex` pattern (VERSION0) compiled when first used. Equal sources and flags give
    the same object, so a pattern shared by rules is compiled, probed and scanned for once.

    `slow` says the pattern backtracks badly on a probe: its calls are always timed.
    """

    __slots__ = ("_compiled", "_slow", "flags", "pattern")
    pattern: str
    flags: int
    _compiled: regex.Pattern[str] | None
    _slow: bool

    def __new__(cls, source: str, flags: int = 0) -> Regex:
        key = (source, flags)
        with _making:
            made = _made.get(key)
            if made is None:
                made = _made[key] = super().__new__(cls)
                made.pattern, made.flags = source, flags
                made._compiled, made._slow = None, False
        return made

    def __repr__(self) -> str:
        return f"Regex({self.pattern[:60]!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Regex, (self.pattern, self.flags))

    @property
    def compiled(self) -> regex.Pattern[str]:
        """The compiled regex (compiled and probed now if it was not yet)."""
        found = self._compiled
        return found if found is not None else self._compile()

    def ready(self) -> tuple[regex.Pattern[str], bool]:
        """The compiled regex and whether it is slow, in one call (the scan's inner loop)."""
        found = self._compiled
        if found is None:
            found = self._compile()
        return found, self._slow

    @property
    def slow(self) -> bool:
        if self._compiled is None:
            self._compile()
        return self._slow

    def _compile(self) -> regex.Pattern[str]:
        started = time.monotonic()
        try:
            compiled = compile_pattern(self.pattern, self.flags)
        except regex.error as exc:
            raise RuleError(f"bad regex {self.pattern[:80]!r}: {exc}") from exc
        slow = False
        try:
            for probe in _PROBES:
                compiled.search(probe, timeout=_PROBE_SECONDS)
        except TimeoutError:
            slow = True
        self._slow, self._compiled = slow, compiled
        _compiled_seconds[0] += time.monotonic() - started
        return compiled

    def match(self, *args: Any, **kwargs: Any) -> regex.Match[str] | None:
        return self.compiled.match(*args, **kwargs)

    def search(self, *args: Any, **kwargs: Any) -> regex.Match[str] | None:
        return self.compiled.search(*args, **kwargs)

    def fullmatch(self, *args: Any, **kwargs: Any) -> regex.Match[str] | None:
        return self.compiled.fullmatch(*args, **kwargs)

    def finditer(self, *args: Any, **kwargs: Any) -> Iterator[regex.Match[str]]:
        return self.compiled.finditer(*args, **kwargs)

    def sub(self, *args: Any, **kwargs: Any) -> str:
        return self.compiled.sub(*args, **kwargs)


@contextmanager
def compile_time() -> Iterator[None]:
    """Count the time the block takes as compiling (the scan's own regexes, compiled when
    first used, are no more a text's time than a pattern is)."""
    started = time.monotonic()
    try:
        yield
    finally:
        _compiled_seconds[0] += time.monotonic() - started


def start_clock() -> None:
    """Start counting the time spent compiling (at the start of a check)."""
    _clock.start = _compiled_seconds[0]


def compiling() -> float:
    """Seconds spent compiling patterns, in any thread, since this thread's `start_clock`."""
    return _compiled_seconds[0] - float(getattr(_clock, "start", _compiled_seconds[0]))

"""Refusals made in the adapters (too fast, too long) still reach drug safety when the refused
text may describe an adverse event: a company must report one however it hears of it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlmodel import Session

from bot.runtime import Runtime
from handlers import safety
from handlers.events import Person

log = logging.getLogger("plaudit.safety")


async def screen(
    runtime: Runtime,
    text: str,
    *,
    key: str,
    reporter: Person | Callable[[], Awaitable[Person]] | None,
    fallback: Person | None = None,
    source: str = "kudos",
) -> str:
    """The sentence to add to a refusal of `text` (with its leading space) when it may
    describe an adverse event and a case was opened for it (once per `key`), else "".

    The whole text is checked (the check has a time budget), off the event loop. A
    `reporter` to look up is looked up only for a possible adverse event, and `fallback`
    stands in when that fails, so a platform error never loses the case; None keeps the
    case anonymous (a survey's answers)."""
    if not text.strip():
        return ""
    found = await asyncio.to_thread(safety.possible_ae, text, runtime.rules)
    if found is None:
        return ""
    person = reporter if reporter is None or isinstance(reporter, Person) else None
    if callable(reporter):
        try:
            person = await reporter()
        except Exception as exc:  # the case matters more than the reporter's profile
            log.warning("reporter lookup failed while screening a refused text: %s", exc)
            person = fallback

    def work(session: Session) -> safety.Screened | None:
        return safety.screen(
            text,
            person,
            source,
            session=session,
            policy=runtime.policy,
            clock=runtime.clock,
            rules=runtime.rules,
            key=key,
            result=found,
        )

    screened = await runtime.run(work)
    runtime.poke()
    return f" {screened.message}" if screened else ""

"""Delivers outbox rows addressed to a webhook (the drug-safety system) as JSON over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from bot.jobs.outbox import Job, RateLimited, Transient
from handlers.messages import Template, renderer


def pv_case(data: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of a PV case: the case as recorded (the destination URL left out)."""
    return {k: v for k, v in data.items() if k != "url"}


RENDERERS: Mapping[Template, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    Template.PV_CASE: pv_case,
}


class WebhookSender:
    """POSTs the row's data; any failure is retried, since a PV case must never be dropped."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __call__(self, job: Job) -> str | None:
        data = renderer(RENDERERS, job.template, "the webhook")(job.data)
        url = str(job.data["url"])
        try:
            async with self.session.post(
                url, json=data, headers={"Idempotency-Key": f"plaudit-outbox-{job.id}"}
            ) as response:
                if response.status == 429:
                    raise RateLimited(float(response.headers.get("Retry-After") or 30))
                if response.status >= 300:
                    raise Transient(f"webhook answered HTTP {response.status}")
                return response.headers.get("Location") or f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc

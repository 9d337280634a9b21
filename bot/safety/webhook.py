"""Delivers outbox rows addressed to a webhook (the drug-safety system) as JSON over HTTP."""

from __future__ import annotations

import aiohttp

from bot.jobs.outbox import Job, RateLimited, Transient


class WebhookSender:
    """POSTs the row's data; any failure is retried, since a PV case must never be dropped."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __call__(self, job: Job) -> str | None:
        data = dict(job.data)
        url = str(data.pop("url"))
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

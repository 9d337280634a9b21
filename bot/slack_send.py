"""Sends outbox jobs to Slack through slack_sdk, mapping its errors onto retry decisions."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import slack_render
from bot.outbox import Job, Permanent, RateLimited, Transient

# Errors that no retry will fix; anything else unexpected is retried with backoff.
_PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "msg_too_long",
    "no_text",
    "invalid_blocks",
    "user_not_found",
    "user_not_in_channel",
    "cannot_dm_bot",
    "restricted_action",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "not_authed",
    "missing_scope",
}


class SlackSender:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def __call__(self, job: Job) -> str | None:
        content = slack_render.message(job.template, job.data)
        try:
            if job.kind == "ephemeral":
                response = await self.client.chat_postEphemeral(
                    channel=job.channel, user=job.user or "", **content
                )
                return str(response.get("message_ts") or "") or None
            response = await self.client.chat_postMessage(channel=job.channel, **content)
            return str(response.get("ts") or "") or None
        except SlackApiError as exc:
            status = exc.response.status_code
            if status == 429:
                retry = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                    "retry-after"
                )
                raise RateLimited(float(retry or 30)) from exc
            if status >= 500:
                raise Transient(f"Slack answered HTTP {status}") from exc
            error = str(exc.response.get("error") or f"HTTP {status}")
            if error in _PERMANENT:
                raise Permanent(error) from exc
            raise Transient(error) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc

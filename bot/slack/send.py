"""Sends outbox jobs to Slack through slack_sdk, and deletes the messages of retracted
kudos, mapping its errors onto retry decisions."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.jobs.outbox import Deferred, Job, Permanent, RateLimited, Transient
from bot.slack import blocks
from bot.slack.clients import NotInstalled, SlackClients
from bot.slack.limits import LIMITED_HISTORY_PAGE, Budget, SlackLimits, retry_after
from bot.slack.render import Upload, render
from handlers import i18n

# Errors that no retry will fix; anything else unexpected is retried with backoff.
_PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "msg_too_long",
    "msg_blocks_too_long",
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
    "message_not_found",
    "cant_update_message",
    "cant_delete_message",
    # An Enterprise Grid's compliance exports keep every message: none can be deleted.
    "compliance_exports_prevent_deletion",
}
_TOKEN_GONE = {"invalid_auth", "token_revoked", "account_inactive", "not_authed"}
# Slack refused the message's form, not its place: the same words go once more as plain text.
_AS_TEXT = {"invalid_blocks", "msg_too_long", "msg_blocks_too_long"}
# A message to delete that is not there any more: deleted already, or its channel with it.
_GONE = {"message_not_found", "channel_not_found"}

METADATA_EVENT = "plaudit_outbox"
log = logging.getLogger("plaudit.outbox")


class SlackSender:
    """Delivers a job with the bot token of the job's workspace. `org_channels` are the
    channels named in plaudit.yaml (reviews, drug safety, boards, survey results): with
    several workspaces installed they live in the home workspace, and go with its token.

    `limits`: the budgets of chat.update and conversations.history per workspace; a row
    whose method has none left waits (`Deferred`) while the workspace's posts go on."""

    def __init__(
        self,
        clients: SlackClients | AsyncWebClient,
        *,
        org_channels: frozenset[str] = frozenset(),
        limits: SlackLimits | None = None,
    ) -> None:
        self.clients = clients if isinstance(clients, SlackClients) else SlackClients(clients)
        self.org_channels = org_channels
        # Installed into several workspaces, Plaudit is a distributed app: outside the
        # Marketplace, conversations.history is in the limited mode there.
        self.limits = limits or SlackLimits(limited=True if self.clients.multi_workspace else None)
        # chat.delete is Tier 3 too, limited per workspace apart from the posts.
        self.deletes = Budget(45, 60.0)

    async def __call__(self, job: Job) -> str | None:
        team = job.workspace
        if self.clients.home and (team is None or job.channel in self.org_channels):
            team = self.clients.home
        try:
            client = await self.clients.for_team(team)
            try:
                return await self._send(client, job)
            except Permanent as exc:
                if not self.clients.multi_workspace or str(exc) not in _TOKEN_GONE or not team:
                    raise
                # The workspace may have installed Plaudit again since its token was cached
                # (by this replica or another): one more try with what the store holds now.
                self.clients.forget(team)
                fresh = await self.clients.for_team(team)
                if fresh.token == client.token:
                    raise
                return await self._send(fresh, job)
        except NotInstalled as exc:
            raise Permanent(str(exc)) from exc

    async def _send(self, client: AsyncWebClient, job: Job) -> str | None:
        if job.kind == "delete":
            await self._delete(client, job)
            return None  # the row is done; no message of its own to record
        content = render(job.template, job.data)
        if isinstance(content, Upload):
            return await self._upload(client, job, content)
        if job.kind == "update":
            return await self._update(client, job, content)
        try:
            if job.uncertain and job.kind == "dm":
                found = await self._already_posted(client, job)
                if found is not None:
                    return found
            try:
                locale = job.data.get("locale")
                with i18n.speaking(str(locale) if locale else None):  # "(1 of 2)", as drawn
                    parts = blocks.posts(content)
                return await self._post_all(client, job, parts)
            except SlackApiError as exc:
                error = str(exc.response.get("error") or "")
                if error not in _AS_TEXT:
                    raise
                # Never let the form of a message lose its words (a drug-safety alert least
                # of all): without blocks, in as many messages as the text needs.
                log.warning(
                    "Slack refused row %s (%s): %s; sending it as plain text",
                    job.id,
                    job.template,
                    error,
                )
                plain = [{"text": t, "unfurl_links": False} for t in blocks.as_text(content)]
                return await self._post_all(client, job, plain)
        except SlackApiError as exc:
            raise _mapped(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc

    async def _post_all(
        self, client: AsyncWebClient, job: Job, messages: list[dict[str, Any]]
    ) -> str | None:
        """Post `messages` in order; the first one's ts is the row's. Only the last carries
        the row's key, so a retry after a partial send sends again rather than skips."""
        first: str | None = None
        for number, content in enumerate(messages, 1):
            if job.kind == "ephemeral":
                response = await client.chat_postEphemeral(
                    channel=job.channel, user=job.user or "", **content
                )
                ts = str(response.get("message_ts") or "") or None
            else:
                payload = {"key": job.key if number == len(messages) else f"{job.key}#{number}"}
                response = await client.chat_postMessage(
                    channel=job.channel,
                    metadata={"event_type": METADATA_EVENT, "event_payload": payload},
                    **content,
                )
                ts = str(response.get("ts") or "") or None
            first = first or ts
        return first

    async def _update(self, client: AsyncWebClient, job: Job, content: dict[str, Any]) -> str:
        """Redraw message `job.ref` in place, within chat.update's budget (Tier 3)."""
        ref = job.ref or ""
        _spend(self.limits.update, job.workspace)
        try:
            await client.chat_update(channel=job.channel, ts=ref, **content)
        except SlackApiError as exc:
            raise _waited(exc, self.limits.update, job.workspace) or _mapped(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        return ref

    async def _delete(self, client: AsyncWebClient, job: Job) -> None:
        """Delete message `job.ref` (a retracted kudos's), within chat.delete's budget. A
        DM went to the person's user id; chat.delete takes the conversation's id, which
        conversations.open gives. No `ref`: nothing went out. Gone already: done."""
        if job.ref is None:
            return None
        _spend(self.deletes, job.workspace)
        try:
            channel = job.channel
            if channel[:1] in ("U", "W"):
                opened = await client.conversations_open(users=channel)
                channel = str(opened["channel"]["id"])
            await client.chat_delete(channel=channel, ts=job.ref)
        except SlackApiError as exc:
            if exc.response.get("error") in _GONE:
                log.info("the message of row %s was gone already", job.id)
                return None
            raise _waited(exc, self.deletes, job.workspace) or _mapped(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        return None

    async def _already_posted(self, client: AsyncWebClient, job: Job) -> str | None:
        """The ts of this job's DM if an earlier owner sent it before dying; Slack has no
        idempotency key, so the outbox key travels in the message's metadata.

        Where conversations.history is in the limited mode (one call a minute, 15 messages)
        the look-up waits its turn rather than send blind: a DM sent twice is worse than one
        sent a minute late, and the message, if sent, went out within the lease, so it is
        among the newest 15."""
        budget, page = self.limits.history_budget(job.workspace)
        _spend(budget, job.workspace)
        try:
            opened = await client.conversations_open(users=job.channel)
            history = await client.conversations_history(
                channel=str(opened["channel"]["id"]), limit=page, include_all_metadata=True
            )
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                if str(exc.response.api_url).endswith("conversations.history"):
                    self.limits.learn_limited(job.workspace)
                    budget, _ = self.limits.history_budget(job.workspace)
                raise _waited(exc, budget, job.workspace) or _mapped(exc) from exc
            log.warning(
                "could not check for an earlier copy of row %s: %s",
                job.id,
                exc.response.get("error"),
            )
            return None
        found = history.get("messages") or []
        if page > LIMITED_HISTORY_PAGE >= len(found) and history.get("has_more"):
            self.limits.learn_limited(job.workspace)  # Slack cut the page short
        for message in found:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_EVENT and payload.get("key") == job.key:
                log.info("row %s was already delivered before a restart", job.id)
                return str(message.get("ts") or "") or None
        return None

    async def _upload(
        self,
        client: AsyncWebClient,
        job: Job,
        content: Upload,
    ) -> str | None:
        """A chart as an uploaded PNG with the figures as its comment (text alone when
        there is nothing to draw)."""
        text, filename, title = content.text, content.filename, content.title
        png = await asyncio.to_thread(content.draw, job.data)
        try:
            if png is None:
                response = await client.chat_postMessage(channel=job.channel, text=text)
                return str(response.get("ts") or "") or None
            channel = job.channel
            if channel[:1] in ("U", "W"):
                opened = await client.conversations_open(users=channel)
                channel = str(opened["channel"]["id"])
            upload = await client.files_upload_v2(
                channel=channel,
                content=png,
                filename=filename,
                title=title,
                initial_comment=text,
            )
            file = upload.get("file") or {}
            return str(file.get("id") or "") or None
        except SlackApiError as exc:
            raise _mapped(exc) from exc
        except (aiohttp.ClientError, TimeoutError, SlackRequestError) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc


def _spend(budget: Budget, team: str | None) -> None:
    """Count a call of a limited method, or make the row wait for one (`Deferred`)."""
    wait = budget.take(team)
    if wait > 0:
        raise Deferred(wait)


def _waited(exc: SlackApiError, budget: Budget, team: str | None) -> Deferred | None:
    """A 429 on a limited method: that method waits as long as Slack said, and the row is
    tried again then (never dropped); the workspace's other calls go on."""
    if exc.response.status_code != 429:
        return None
    retry = retry_after(exc)
    budget.pause(team, retry)
    return Deferred(retry)


def _mapped(exc: SlackApiError) -> Exception:
    status = exc.response.status_code
    if status == 429:
        return RateLimited(retry_after(exc))
    if status >= 500:
        return Transient(f"Slack answered HTTP {status}")
    error = str(exc.response.get("error") or f"HTTP {status}")
    return Permanent(error) if error in _PERMANENT else Transient(error)

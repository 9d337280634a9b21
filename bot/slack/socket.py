"""Slack over Socket Mode: the same Bolt app, fed by an outbound websocket instead of HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

log = logging.getLogger("plaudit.slack.socket")

# What POST /slack/events answers (with a 404) while events arrive over the websocket.
HTTP_OFF: dict[str, str] = {
    "error": "slack_socket_mode",
    "detail": "SLACK_APP_TOKEN is set, so Slack events arrive over Socket Mode; "
    "unset it to receive them here",
}


class SocketModeError(RuntimeError):
    """Slack refused to open a Socket Mode connection for this app-level token."""


class SocketMode:
    """One Socket Mode connection for a Bolt app: `start()` at startup, `stop()` at shutdown.

    Slack's SDK reconnects by itself (on `disconnect` messages, closed sockets and missed
    pongs); an envelope is acknowledged only after its listener finished, so one that is
    lost with a connection is delivered again, and the dedupe keys make that harmless.
    """

    def __init__(self, app: AsyncApp, settings: Settings, *, connect_wait: float = 10.0) -> None:
        if settings.slack_app_token is None:
            raise ValueError("Socket Mode needs SLACK_APP_TOKEN")
        self._app = app
        self._token = settings.slack_app_token.get_secret_value()
        self._api_url = settings.slack_api_url
        self._connect_wait = connect_wait
        self._handler: AsyncSocketModeHandler | None = None
        self._connecting: asyncio.Task[Any] | None = None

    @property
    def connected(self) -> bool:
        """Whether a websocket to Slack is open right now."""
        client = self._handler.client if self._handler is not None else None
        session = getattr(client, "current_session", None)
        return session is not None and not session.closed

    async def start(self) -> None:
        """Ask Slack for a websocket URL and connect; a refused token stops startup.

        If Slack cannot be reached, startup goes on and the SDK keeps retrying in the
        background, so health checks still answer while the network is down.
        """
        # apps.connections.open goes to SLACK_API_URL with the app-level token, not the
        # bot token of the Bolt app's client.
        web = AsyncWebClient(token=self._token, base_url=self._api_url, timeout=10)
        handler = AsyncSocketModeHandler(self._app, self._token, logger=log, web_client=web)
        self._handler = handler
        try:
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
        except SlackApiError as exc:
            if exc.response.status_code < 500:
                await self.stop()
                error = exc.response.get("error")
                raise SocketModeError(
                    f"Slack refused SLACK_APP_TOKEN (apps.connections.open: {error}); check "
                    "the token, its connections:write scope, and that Socket Mode is enabled "
                    "for the app"
                ) from exc
            log.warning("Slack is not answering (%s); will keep trying", exc.response.status_code)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("cannot reach Slack for Socket Mode (%s); will keep trying", exc)
        connect = handler.connect_async()  # type: ignore[no-untyped-call]
        self._connecting = asyncio.get_running_loop().create_task(connect)
        await asyncio.wait({self._connecting}, timeout=self._connect_wait)
        if self.connected:
            log.info("Slack Socket Mode connected")
        else:
            log.warning("Slack Socket Mode is not connected yet; retrying in the background")

    async def stop(self) -> None:
        """Close the websocket and the SDK's tasks; unacknowledged envelopes are redelivered."""
        handler, self._handler = self._handler, None
        connecting, self._connecting = self._connecting, None
        if handler is not None:
            try:
                await handler.close_async()  # type: ignore[no-untyped-call]
            except Exception:  # shutting down: log and go on with the rest of the shutdown
                log.exception("closing the Socket Mode connection failed")
        if connecting is not None and not connecting.done():
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
        # Let the SDK's cancelled receive/monitor tasks unwind before the loop goes away.
        await asyncio.sleep(0)


async def start(app: AsyncApp, settings: Settings) -> SocketMode:
    """Connect `app` to Slack over Socket Mode."""
    socket = SocketMode(app, settings)
    await socket.start()
    return socket

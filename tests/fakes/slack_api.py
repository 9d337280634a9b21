"""A fake Slack Web API on loopback: Slack's wire format, recorded calls, injected failures,
and Slack's refusal of messages and views beyond its limits (`refusal`)."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from tests.fakes import loopback

# Slack's limits: blocks in a message and in a view, a message's `text`, a context element's
# text, a button's or an option's text, an option's value.
MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, MAX_TEXT = 50, 100, 40_000
MAX_CONTEXT_TEXT, MAX_LABEL, MAX_OPTION_VALUE = 2000, 75, 150
# The words all of a message's blocks may carry. Slack documents no number; it answers
# `msg_blocks_too_long` from about 11,000 characters (reported between 11,341 and 13,297).
MAX_BLOCKS_TEXT = 11_000
_MESSAGES = ("chat.postMessage", "chat.postEphemeral", "chat.update")
_VIEWS = ("views.open", "views.update", "views.push")


def refusal(method: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """Slack's answer (HTTP 200, `ok: false`) to a message or view it refuses for its size or
    form, as Slack words it; None when Slack takes it."""
    if method in _MESSAGES:
        if len(str(args.get("text") or "")) > MAX_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        blocks = _decoded(args.get("blocks"))
        problems = block_problems(blocks, most=MAX_MESSAGE_BLOCKS, where="/blocks")
        if problems:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "errors": [p.removeprefix("[ERROR] ") for p in problems],
                "response_metadata": {"messages": problems},
            }
        if sum(len(t) for b in blocks or [] for t in _words(b)) > MAX_BLOCKS_TEXT:
            return {"ok": False, "error": "msg_blocks_too_long"}
    if method in _VIEWS:
        view = _decoded(args.get("view")) or {}
        blocks = view.get("blocks") if isinstance(view, dict) else None
        problems = block_problems(blocks, most=MAX_VIEW_BLOCKS, where="/view/blocks")
        if problems:
            # A view's blocks are one of its arguments: Slack calls them invalid arguments.
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": problems},
            }
    return None


def block_problems(
    blocks: Any, *, most: int = MAX_MESSAGE_BLOCKS, where: str = "/blocks"
) -> list[str]:
    """What Slack says of `blocks` it refuses ("[ERROR] ... [json-pointer:...]"): slack_sdk's
    own Block Kit models, which carry the per-block limits (a section's 3,000 characters, a
    header's 150), plus the limits those models leave out; empty when Slack takes them."""
    if blocks is None:
        return []
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:{where}]"]
    problems = []
    if len(blocks) > most:
        problems.append(f"[ERROR] no more than {most} items allowed [json-pointer:{where}]")
    for index, raw in enumerate(blocks):
        problems += [f"[ERROR] {p} [json-pointer:{where}/{index}]" for p in _block_problems(raw)]
    return problems


def _block_problems(raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return ["must be an object"]
    try:
        block = Block.parse(raw)
        if block is None:
            return [f"unsupported block type {raw.get('type')!r}"]
        block.validate_json()
    except SlackObjectFormationError as exc:
        return [str(exc)]
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return [f"invalid block: {exc!r}"]
    problems: list[str] = []
    kind = raw.get("type")
    if kind == "section" and "text" in raw and not str((raw["text"] or {}).get("text") or ""):
        problems.append("must be more than 0 characters (text)")
    if kind == "context":
        for element in raw.get("elements") or []:
            text = element.get("text") if isinstance(element, dict) else None
            if isinstance(text, str) and not 0 < len(text) <= MAX_CONTEXT_TEXT:
                problems.append(f"context text must be 1 to {MAX_CONTEXT_TEXT} characters")
    for element in _interactive(raw):
        problems += _element_problems(element)
    return problems


def _interactive(block: dict[str, Any]) -> list[dict[str, Any]]:
    """A block's buttons and menus: an actions block's elements, a section's accessory."""
    found = (
        [e for e in block.get("elements") or [] if isinstance(e, dict)]
        if block.get("type") == "actions"
        else []
    )
    accessory = block.get("accessory")
    return found + ([accessory] if isinstance(accessory, dict) else [])


def _element_problems(element: dict[str, Any]) -> list[str]:
    problems = []
    label = element.get("text")
    if isinstance(label, dict) and len(str(label.get("text") or "")) > MAX_LABEL:
        problems.append(f"button text must be less than {MAX_LABEL + 1} characters")
    chosen = element.get("initial_option")
    options = [
        *(element.get("options") or []),
        *(element.get("initial_options") or []),
        *([chosen] if isinstance(chosen, dict) else []),
    ]
    for option in options:
        if len(str((option.get("text") or {}).get("text") or "")) > MAX_LABEL:
            problems.append(f"option text must be less than {MAX_LABEL + 1} characters")
        if len(str(option.get("value") or "")) > MAX_OPTION_VALUE:
            problems.append(f"option value must be less than {MAX_OPTION_VALUE + 1} characters")
    return problems


def _words(block: Any) -> list[str]:
    """The text a block carries (its sections, headers and context lines)."""
    if not isinstance(block, dict):
        return []
    text = block.get("text")
    found = [str(text.get("text") or "")] if isinstance(text, dict) else []
    return found + [
        str(e["text"])
        for e in block.get("elements") or []
        if isinstance(e, dict) and isinstance(e.get("text"), str)
    ]


def _decoded(value: Any) -> Any:
    """An argument as sent: JSON in a form field, or already a JSON value."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    body: dict[str, Any] | None
    times: int


@dataclass
class _User:
    id: str
    name: str
    tz: str
    email: str | None
    is_bot: bool
    deleted: bool
    real_name: str | None

    def as_slack(self, team_id: str) -> dict[str, Any]:
        offsets = {"Europe/London": 0, "Europe/Berlin": 3600, "America/New_York": -18000}
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name or self.name.title(),
            "tz": self.tz,
            "tz_label": self.tz,
            "tz_offset": offsets.get(self.tz, 0),
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
            "profile": {
                "real_name": self.real_name or self.name.title(),
                "display_name": self.name,
                "email": self.email,
                "team": team_id,
            },
        }


@dataclass
class FakeSlack:
    """Answers like https://slack.com/api/ does, for the methods Plaudit uses."""

    token: str = "xoxb-test-token"
    team_id: str = "T0001"
    bot_user_id: str = "UBOT"
    _calls: list[Call] = field(default_factory=list)
    _users: dict[str, _User] = field(default_factory=dict)
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _delays: dict[str, float] = field(default_factory=dict)
    _messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _files: dict[str, bytes] = field(default_factory=dict)
    _ims: dict[str, str] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)
    _channel_members: dict[str, list[str]] = field(default_factory=dict)
    rate_limit: float | None = None  # chat.postMessage calls a second before 429s
    _refuse_until: float = 0.0  # an outage: every chat.postMessage is a 429 until then
    _window: list[float] = field(default_factory=list)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    _server: ThreadingHTTPServer | None = None
    base_url: str = ""
    # Socket Mode: with `socket_url` set, apps.connections.open answers with that websocket
    # URL (plus a fresh ticket) to callers presenting `app_token`.
    app_token: str = "xapp-1-test"
    socket_url: str | None = None
    # OAuth installs: oauth.v2.access trades a scripted code for a workspace's bot token
    # (asked with the app's client id and secret, HTTP Basic as slack_sdk sends them); that
    # token then works like `token`, in its own workspace.
    client_id: str = "1111.2222"
    client_secret: str = "test-client-secret-0123"
    _installs: dict[str, dict[str, Any]] = field(default_factory=dict)
    _workspaces: dict[str, str] = field(default_factory=dict)  # bot token -> team id

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FakeSlack:
        self._server, _ = loopback.serve(self._handle)
        self.base_url = loopback.base_url(self._server) + "/api/"
        return self

    def stop(self) -> None:
        loopback.stop(self._server)
        self._server = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------
    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        tz: str = "Europe/London",
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        real_name: str | None = None,
    ) -> None:
        with self._lock:
            self._users[user_id] = _User(user_id, name, tz, email, is_bot, deleted, real_name)

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        retry_after: int | None = None,
        times: int = 1,
        body: dict[str, Any] | None = None,
    ) -> None:
        with self._lock:
            self._failures.setdefault(method, []).append(_Failure(status, retry_after, body, times))

    def outage(self, seconds: float) -> None:
        """Answer every chat.postMessage with a 429 (Retry-After: 1) for `seconds`."""
        with self._lock:
            self._refuse_until = time.monotonic() + seconds

    def add_install(
        self,
        code: str,
        *,
        team_id: str,
        team_name: str,
        token: str,
        bot_user_id: str = "UBOT",
        scope: str = "commands,chat:write",
    ) -> None:
        """Let `code` be traded once for `token`, a bot token of workspace `team_id`."""
        with self._lock:
            self._installs[code] = {
                "team": {"id": team_id, "name": team_name},
                "access_token": token,
                "bot_user_id": bot_user_id,
                "scope": scope,
            }

    def revoke(self, token: str) -> None:
        with self._lock:
            self._workspaces.pop(token, None)

    def set_channel_members(self, channel: str, users: list[str]) -> None:
        with self._lock:
            self._channel_members[channel] = list(users)

    def file(self, file_id: str) -> bytes:
        with self._lock:
            return self._files[file_id]

    def delay(self, method: str, seconds: float) -> None:
        with self._lock:
            self._delays[method] = seconds

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._failures.clear()
            self._delays.clear()
            self._messages.clear()
            self._counts.clear()

    # -- inspection --------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def count(self, method: str) -> int:
        """Calls of `method` so far, without copying the record."""
        with self._lock:
            return self._counts.get(method, 0)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages.get(channel, []))

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until `count` calls of `method` were recorded (successful or not)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [c for c in self._calls if c.method == method]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self._calls]
                    raise AssertionError(f"expected {count} x {method}, saw {seen}")
                self._lock.wait(left)

    # -- the wire ----------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlparse(request.path)
        method = url.path.rsplit("/", 1)[-1]
        length = int(request.headers.get("Content-Length") or 0)
        if url.path.startswith("/upload/"):
            # files.getUploadURLExternal hands out this URL; Slack answers it in plain text.
            upload = request.rfile.read(length)
            with self._lock:
                self._files[method] = upload
            answer = f"OK - {len(upload)}".encode()
            request.send_response(200)
            request.send_header("Content-Type", "text/plain")
            request.send_header("Content-Length", str(len(answer)))
            request.end_headers()
            request.wfile.write(answer)
            return
        raw = request.rfile.read(length).decode("utf-8") if length else ""
        args: dict[str, Any] = {k: v[0] for k, v in parse_qs(url.query).items()}
        content_type = request.headers.get("Content-Type", "")
        if raw and "json" in content_type:
            args.update(json.loads(raw))
        elif raw:
            args.update({k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()})
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            self._calls.append(Call(method, args, headers, time.monotonic()))
            self._counts[method] = self._counts.get(method, 0) + 1
            self._lock.notify_all()
            delay = self._delays.get(method, 0.0)
            failure = self._take_failure(method) or self._over_limit(method)
        if delay:
            time.sleep(delay)
        if failure is not None:
            extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            default = {
                "ok": False,
                "error": "ratelimited" if failure.status == 429 else "fatal_error",
            }
            self._reply(request, failure.status, failure.body or default, extra)
            return
        auth = headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() or str(args.get("token", ""))
        if method == "apps.connections.open" and self.socket_url is not None:
            self._reply(request, 200, self._connections_open(token))
            return
        if method == "oauth.v2.access":
            self._reply(request, 200, self._oauth_access(args, auth))
            return
        with self._lock:
            team = self.team_id if token == self.token else self._workspaces.get(token)
        if team is None:
            self._reply(request, 200, {"ok": False, "error": "invalid_auth"})
            return
        handler = self._methods().get(method)
        body = refusal(method, args) or (
            handler({**args, "_team": team})
            if handler
            else {"ok": False, "error": "unknown_method"}
        )
        self._reply(request, 200, body)

    def _over_limit(self, method: str) -> _Failure | None:
        """Slack's per-workspace limit: beyond `rate_limit` posts a second, a 429."""
        if method == "chat.postMessage" and time.monotonic() < self._refuse_until:
            return _Failure(429, 1, None, 1)
        if self.rate_limit is None or method != "chat.postMessage":
            return None
        now = time.monotonic()
        while self._window and self._window[0] <= now - 1.0:
            self._window.pop(0)
        if len(self._window) >= self.rate_limit:
            return _Failure(429, 1, None, 1)
        self._window.append(now)
        return None

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    @staticmethod
    def _reply(
        request: BaseHTTPRequestHandler,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": self._auth_test,
            "auth.revoke": self._auth_revoke,
            "users.info": self._users_info,
            "users.lookupByEmail": self._lookup_by_email,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.getPermalink": self._permalink,
            "conversations.open": self._open,
            "conversations.members": self._members,
            "conversations.history": self._history,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "views.open": self._view,
            "views.update": self._view,
        }

    def _connections_open(self, token: str) -> dict[str, Any]:
        """A Socket Mode URL, for an app-level token only (Slack refuses bot tokens here)."""
        if token != self.app_token:
            error = "not_allowed_token_type" if token == self.token else "invalid_auth"
            return {"ok": False, "error": error}
        ticket = f"ticket-{next(self._ts)}"
        return {"ok": True, "url": f"{self.socket_url}?ticket={ticket}&app_id=A0001"}

    def _oauth_access(self, args: dict[str, Any], auth: str) -> dict[str, Any]:
        """oauth.v2.access: the app's credentials, and a code used once."""
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        from_form = (args.get("client_id"), args.get("client_secret")) == (
            self.client_id,
            self.client_secret,
        )
        if auth != f"Basic {basic}" and not from_form:
            return {"ok": False, "error": "invalid_client_id"}
        with self._lock:
            install = self._installs.pop(str(args.get("code") or ""), None)
            if install is None:
                return {"ok": False, "error": "invalid_code"}
            self._workspaces[install["access_token"]] = install["team"]["id"]
        return {
            "ok": True,
            "app_id": "A0001",
            "authed_user": {"id": "UINSTALLER"},
            "token_type": "bot",
            "enterprise": None,
            "is_enterprise_install": False,
            **install,
        }

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://example.slack.com/",
            "team": "Example",
            "user": "plaudit",
            "team_id": args.get("_team", self.team_id),
            "user_id": self.bot_user_id,
            "bot_id": "B0001",
            "is_enterprise_install": False,
        }

    def _auth_revoke(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            revoked = [t for t, team in self._workspaces.items() if team == args["_team"]]
            for token in revoked:
                del self._workspaces[token]
        return {"ok": True, "revoked": bool(revoked)}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            user = self._users.get(str(args.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user.as_slack(str(args.get("_team", self.team_id)))}

    def _lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            found = [u for u in self._users.values() if u.email == args.get("email")]
        if not found:
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True, "user": found[0].as_slack(self.team_id)}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message = {
            "type": "message",
            "ts": ts,
            "text": args.get("text", ""),
            "user": self.bot_user_id,
        }
        if "blocks" in args:
            message["blocks"] = args["blocks"]
        if args.get("metadata"):
            meta = args["metadata"]
            message["metadata"] = json.loads(meta) if isinstance(meta, str) else meta
        with self._lock:
            self._messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel") or not args.get("user"):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        blocks = args.get("blocks")
        parsed = json.loads(blocks) if isinstance(blocks, str) else blocks
        with self._lock:
            for message in self._messages.get(str(args.get("channel")), []):
                if message["ts"] == args.get("ts"):
                    message["text"] = args.get("text", "")
                    if parsed is not None:
                        message["blocks"] = parsed
        return {
            "ok": True,
            "channel": args.get("channel"),
            "ts": args.get("ts"),
            "text": args.get("text", ""),
        }

    def _permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), str(args.get("message_ts", ""))
        if not channel or not ts:
            return {"ok": False, "error": "message_not_found"}
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = sorted(str(args.get("users", "")).split(","))
        channel = "D" + "".join(u[-4:] for u in users).upper()
        with self._lock:
            self._ims[channel] = users[0]
        return {"ok": True, "channel": {"id": channel}}

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Newest first, as Slack returns it; a DM's messages were posted to the user id."""
        channel = str(args.get("channel", ""))
        with self._lock:
            stored = self._messages.get(self._ims.get(channel, channel))
            if stored is None:
                return {"ok": False, "error": "channel_not_found"}
            keep_metadata = str(args.get("include_all_metadata")).lower() in ("1", "true")
            newest = list(reversed(stored))[: int(args.get("limit") or 100)]
        messages = [
            m if keep_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in newest
        ]
        return {"ok": True, "messages": messages, "has_more": False}

    def _members(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            members = self._channel_members.get(str(args.get("channel")))
        if members is None:
            return {"ok": False, "error": "channel_not_found"}
        # Two to a page, to exercise the cursor.
        start = int(args.get("cursor") or 0)
        page = members[start : start + 2]
        cursor = str(start + 2) if start + 2 < len(members) else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}

    def _upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not args.get("length"):
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ts):07d}"
        root = self.base_url.removesuffix("/api/")
        return {"ok": True, "upload_url": f"{root}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        parsed = json.loads(files) if isinstance(files, str) else files
        channel = str(args.get("channel_id") or "")
        with self._lock:
            missing = [f["id"] for f in parsed or [] if f["id"] not in self._files]
            if missing or not parsed:
                return {"ok": False, "error": "file_not_found"}
            if channel:
                self._messages.setdefault(channel, []).append(
                    {
                        "type": "message",
                        "ts": self._next_ts(),
                        "text": args.get("initial_comment", ""),
                        "files": [dict(f) for f in parsed],
                    }
                )
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in parsed]}

    def _view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        parsed = json.loads(view) if isinstance(view, str) else view
        if not args.get("trigger_id") and not args.get("view_id"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {"id": "V0001", "hash": "1.abc", **(parsed or {})}}

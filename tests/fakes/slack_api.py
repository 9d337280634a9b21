"""A fake Slack Web API on loopback: Slack's wire format, recorded calls, injected failures,
Slack's refusal of messages and views beyond its limits (`refusal`), its per-method rate
limits (chat.update's and chat.delete's Tier 3, views.publish's Tier 4;
conversations.history's one a minute for apps in the limited mode), the conversations the
bot is in, and commands' `response_url`s."""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from tests.fakes import loopback

# Slack's limits: blocks in a message and in a view, a message's `text`, a context element's
# text, a button's or an option's text, an option's value; a section's text, a section field's,
# a header's; a text input's most characters. Lengths are counted in UTF-16 code units (an
# emoji outside the Basic Multilingual Plane counts twice), never less than Slack counts.
MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, MAX_TEXT = 50, 100, 40_000
MAX_CONTEXT_TEXT, MAX_LABEL, MAX_OPTION_VALUE = 2000, 75, 150
MAX_SECTION_TEXT, MAX_FIELD_TEXT, MAX_HEADER_TEXT, MAX_INPUT_LENGTH = 3000, 2000, 150, 3000
# The words all of a message's blocks may carry. Slack documents no number; it answers
# `msg_blocks_too_long` from about 11,000 characters (reported between 11,341 and 13,297).
MAX_BLOCKS_TEXT = 11_000
_MESSAGES = ("chat.postMessage", "chat.postEphemeral", "chat.update")
_VIEWS = ("views.open", "views.update", "views.push", "views.publish")


def refusal(method: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """Slack's answer (HTTP 200, `ok: false`) to a message or view it refuses for its size or
    form, as Slack words it; None when Slack takes it."""
    if method in _MESSAGES:
        if _units(str(args.get("text") or "")) > MAX_TEXT:
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
        if sum(_units(t) for b in blocks or [] for t in _words(b)) > MAX_BLOCKS_TEXT:
            return {"ok": False, "error": "msg_blocks_too_long"}
    if method in _VIEWS:
        view = _decoded(args.get("view")) or {}
        blocks = view.get("blocks") if isinstance(view, dict) else None
        problems = block_problems(blocks, most=MAX_VIEW_BLOCKS, where="/view/blocks")
        problems = problems or view_problems(view)
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
        block.to_dict()  # validates the block and, through it, every element it holds
    except SlackObjectFormationError as exc:
        return [str(exc)]
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return [f"invalid block: {exc!r}"]
    problems = _text_problems(raw)
    for element in _interactive(raw):
        problems += _element_problems(element)
    return problems


def _text_problems(raw: dict[str, Any]) -> list[str]:
    """The lengths of a block's texts: a section's, its fields', a header's, a context's."""
    kind, shown, problems = raw.get("type"), raw.get("text"), []
    text = str(shown.get("text") or "") if isinstance(shown, dict) else ""
    most = {"section": MAX_SECTION_TEXT, "header": MAX_HEADER_TEXT}.get(str(kind))
    if most is not None and "text" in raw and not 0 < _units(text) <= most:
        problems.append(f"text must be 1 to {most} characters")
    for field_ in raw.get("fields") or [] if kind == "section" else []:
        if not 0 < _units(str((field_ or {}).get("text") or "")) <= MAX_FIELD_TEXT:
            problems.append(f"fields text must be 1 to {MAX_FIELD_TEXT} characters")
    for element in raw.get("elements") or [] if kind == "context" else []:
        words = element.get("text") if isinstance(element, dict) else None
        if isinstance(words, str) and not 0 < _units(words) <= MAX_CONTEXT_TEXT:
            problems.append(f"context text must be 1 to {MAX_CONTEXT_TEXT} characters")
    return problems


def view_problems(view: Any) -> list[str]:
    """What Slack says of a view it refuses beyond its blocks: slack_sdk's own View model
    (a title or button of at most 24 characters, private_metadata of 3,000, a callback_id
    of 255)."""
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    try:
        View(**view).to_dict()
    except SlackObjectFormationError as exc:
        return [f"[ERROR] {exc} [json-pointer:/view]"]
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return [f"[ERROR] invalid view: {exc!r} [json-pointer:/view]"]
    return []


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _interactive(block: dict[str, Any]) -> list[dict[str, Any]]:
    """A block's buttons, menus and inputs: an actions block's elements, a section's
    accessory, an input block's element."""
    found = (
        [e for e in block.get("elements") or [] if isinstance(e, dict)]
        if block.get("type") == "actions"
        else []
    )
    accessory, element = block.get("accessory"), block.get("element")  # an input's element
    return found + [e for e in (accessory, element) if isinstance(e, dict)]


def _element_problems(element: dict[str, Any]) -> list[str]:
    problems = []
    label = element.get("text")
    if isinstance(label, dict) and _units(str(label.get("text") or "")) > MAX_LABEL:
        problems.append(f"button text must be less than {MAX_LABEL + 1} characters")
    if element.get("type") == "plain_text_input":
        most = int(element.get("max_length") or MAX_INPUT_LENGTH)
        if most > MAX_INPUT_LENGTH or _units(str(element.get("initial_value") or "")) > most:
            problems.append(f"initial_value must be at most {most} of {MAX_INPUT_LENGTH}")
    chosen = element.get("initial_option")
    options = [
        *(element.get("options") or []),
        *(element.get("initial_options") or []),
        *([chosen] if isinstance(chosen, dict) else []),
    ]
    for option in options:
        if _units(str((option.get("text") or {}).get("text") or "")) > MAX_LABEL:
            problems.append(f"option text must be less than {MAX_LABEL + 1} characters")
        if _units(str(option.get("value") or "")) > MAX_OPTION_VALUE:
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


_BROADCAST = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")
_TYPED_BROADCAST = re.compile(r"(?<![\w@&])@(channel|here|everyone)\b")


def broadcasts(args: dict[str, Any]) -> list[str]:
    """Whom a message notifies beyond its mentions ("channel", "here", "everyone"): every
    `<!channel>` token in its text or its mrkdwn, and a plain `@channel` wherever Slack parses
    one itself: in mrkdwn text objects that are not `verbatim` ("certain mentions will be
    automatically parsed"), and in the text when `link_names` or `parse=full` asks for it."""
    found: list[str] = []
    text = str(args.get("text") or "")
    found += _BROADCAST.findall(text)
    if str(args.get("link_names")).lower() in ("1", "true") or args.get("parse") == "full":
        found += _TYPED_BROADCAST.findall(text)
    for obj in _text_objects(_decoded(args.get("blocks"))):
        found += _BROADCAST.findall(str(obj.get("text") or ""))
        if not obj.get("verbatim"):
            found += _TYPED_BROADCAST.findall(str(obj.get("text") or ""))
    return found


def _text_objects(value: Any) -> list[dict[str, Any]]:
    """Every mrkdwn text object in `value`, however deep."""
    if isinstance(value, list):
        return [obj for item in value for obj in _text_objects(item)]
    if not isinstance(value, dict):
        return []
    own = [value] if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str) else []
    return own + [obj for v in value.values() for obj in _text_objects(v)]


def _flag(value: Any) -> bool:
    """A boolean argument as Slack reads it: `true` or `1` (slack_sdk sends `1`)."""
    return value is True or str(value).strip().lower() in ("1", "true")


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
    ended: float | None = None  # when the answer had been written
    status: int = 200


@dataclass
class _Channel:
    """A conversation as Slack keeps it: its kind and whether the bot is in it."""

    id: str
    kind: str  # public | private | im | mpim
    member: bool
    members: list[str]
    archived: bool = False
    ext_shared: bool = False  # a Slack Connect channel, shared with another organisation


# Slack's per-method limits, per workspace: chat.update and chat.delete are Tier 3 ("50+ per
# minute"); conversations.history of apps in the limited mode is one a minute, 15 messages.
UPDATE_LIMIT = DELETE_LIMIT = (50, 60.0)
# views.publish is Tier 4 ("100+ per minute"); the fake takes exactly 100 a minute.
PUBLISH_LIMIT = (100, 60.0)
LIMITED_HISTORY_PAGE = 15
# A command's response_url takes five answers within 30 minutes.
RESPONSE_URL_USES, RESPONSE_URL_TTL = 5, 1800.0


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
    guest: str | None = None  # "multi" or "single": a multi- or single-channel guest
    home_team: str | None = None  # a Slack Connect user's own organisation
    locale: str = "en-US"  # the language their Slack speaks (IETF tag, as Slack gives it)

    def as_slack(self, team_id: str, *, locale: bool = False) -> dict[str, Any]:
        """The user object; with `locale` (users.info's `include_locale`), their locale too,
        which Slack leaves out otherwise."""
        offsets = {"Europe/London": 0, "Europe/Berlin": 3600, "America/New_York": -18000}
        found = {
            "id": self.id,
            "team_id": self.home_team or team_id,
            "is_restricted": self.guest is not None,
            "is_ultra_restricted": self.guest == "single",
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
                "team": self.home_team or team_id,
            },
        }
        return {**found, "locale": self.locale} if locale else found


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
    _channels: dict[str, _Channel] = field(default_factory=dict)
    rate_limit: float | None = None  # chat.postMessage calls a second before 429s
    # chat.update calls a workspace may make in a window of seconds (Tier 3); None: no limit.
    update_limit: tuple[int, float] | None = UPDATE_LIMIT
    delete_limit: tuple[int, float] | None = DELETE_LIMIT
    publish_limit: tuple[int, float] | None = PUBLISH_LIMIT
    _deleted: list[dict[str, Any]] = field(default_factory=list)  # chat.delete's successes
    # The limited mode of commercially distributed apps outside the Marketplace installed
    # since 2025-05-29: conversations.history once per `history_window` s, 15 messages a page.
    history_limited: bool = False
    history_window: float = 60.0
    _method_calls: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    _responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
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
        guest: str | None = None,
        home_team: str | None = None,
        locale: str = "en-US",
    ) -> None:
        """`guest`: "multi" or "single" (channel guest); `home_team`: a Slack Connect user of
        that other organisation; `locale`: the language their Slack speaks ("de-DE")."""
        with self._lock:
            self._users[user_id] = _User(
                user_id, name, tz, email, is_bot, deleted, real_name, guest, home_team, locale
            )

    def set_locale(self, user_id: str, locale: str) -> None:
        """The person switches their Slack to another language."""
        with self._lock:
            self._users[user_id].locale = locale

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

    def add_channel(
        self,
        channel: str,
        *,
        kind: str = "public",
        member: bool = True,
        members: list[str] | None = None,
        archived: bool = False,
        ext_shared: bool = False,
    ) -> None:
        """A conversation Slack knows: `kind` public, private, im or mpim; `member`: the bot
        is in it; `ext_shared`: shared with another organisation (Slack Connect). Plaudit may
        post in a public channel it is not in (chat:write.public), in no other conversation
        it is not in; channels never added take posts as public ones."""
        assert kind in ("public", "private", "im", "mpim"), kind
        with self._lock:
            self._channels[channel] = _Channel(
                channel, kind, member, list(members or []), archived, ext_shared
            )
            if members is not None:
                self._channel_members[channel] = list(members)

    def add_message(self, channel: str, text: str, *, user: str) -> str:
        """A message someone else (`user`) posted in `channel`; its ts."""
        message = {"type": "message", "ts": self._next_ts(), "text": text, "user": user}
        with self._lock:
            self._messages.setdefault(channel, []).append(message)
        return str(message["ts"])

    def response_url(self, name: str = "commands/T0001/1/abc") -> str:
        """A slash command's response_url on this fake (what Slack puts in its payload)."""
        return self.base_url.removesuffix("/api/") + "/" + name.strip("/")

    def responses(self, url: str) -> list[dict[str, Any]]:
        """What was posted to a response_url, in order."""
        with self._lock:
            return list(self._responses.get(urlparse(url).path, []))

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
            self._deleted.clear()
            self._counts.clear()
            self._method_calls.clear()
            self._responses.clear()

    # -- inspection --------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def count(self, method: str) -> int:
        """Calls of `method` so far, without copying the record."""
        with self._lock:
            return self._counts.get(method, 0)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The messages in `channel` now (a DM's under the user id they were posted to)."""
        with self._lock:
            return list(self._messages.get(channel, []))

    def deleted(self) -> list[dict[str, Any]]:
        """The messages chat.delete removed, in order, each with the `channel` it was asked
        in (a DM's D… id) and the `ts` it had."""
        with self._lock:
            return [dict(m) for m in self._deleted]

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
        if url.path.startswith("/commands/"):
            self._respond(request, url.path, raw)
            return
        args: dict[str, Any] = {k: v[0] for k, v in parse_qs(url.query).items()}
        content_type = request.headers.get("Content-Type", "")
        if raw and "json" in content_type:
            args.update(json.loads(raw))
        elif raw:
            args.update({k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()})
        headers = {k.lower(): v for k, v in request.headers.items()}
        auth = headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() or str(args.get("token", ""))
        call = Call(method, args, headers, time.monotonic())
        with self._lock:
            self._calls.append(call)
            self._counts[method] = self._counts.get(method, 0) + 1
            self._lock.notify_all()
            delay = self._delays.get(method, 0.0)
            team = self.team_id if token == self.token else self._workspaces.get(token)
            failure = (
                self._take_failure(method)
                or self._over_limit(method)
                or self._over_method_limit(method, team)
            )
        if delay:
            time.sleep(delay)
        try:
            self._answer(request, call, failure, token, auth)
        finally:
            with self._lock:
                call.ended = time.monotonic()
                self._lock.notify_all()

    def _answer(
        self,
        request: BaseHTTPRequestHandler,
        call: Call,
        failure: _Failure | None,
        token: str,
        auth: str,
    ) -> None:
        method, args = call.method, call.args
        if failure is not None:
            call.status = failure.status
            extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            default = {
                "ok": False,
                "error": "ratelimited" if failure.status == 429 else "fatal_error",
            }
            self._reply(request, failure.status, failure.body or default, extra)
            return
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

    def _over_method_limit(self, method: str, team: str | None) -> _Failure | None:
        """Slack's per-method limits, per workspace: chat.update and chat.delete (Tier 3),
        views.publish (Tier 4) and conversations.history in the limited mode; beyond them, a
        429 with Retry-After."""
        if method == "chat.update" and self.update_limit is not None:
            most, window = self.update_limit
        elif method == "chat.delete" and self.delete_limit is not None:
            most, window = self.delete_limit
        elif method == "views.publish" and self.publish_limit is not None:
            most, window = self.publish_limit
        elif method == "conversations.history" and self.history_limited:
            most, window = 1, self.history_window
        else:
            return None
        now = time.monotonic()
        recent = [t for t in self._method_calls.get((method, team or ""), []) if t > now - window]
        self._method_calls[(method, team or "")] = recent
        if len(recent) >= most:
            return _Failure(429, max(1, math.ceil(recent[0] + window - now)), None, 1)
        recent.append(now)
        return None

    def _respond(self, request: BaseHTTPRequestHandler, path: str, raw: str) -> None:
        """A command's response_url: JSON in, "ok" out, five times in 30 minutes."""
        body = json.loads(raw) if raw else {}
        with self._lock:
            self._calls.append(Call("response_url", body, {}, time.monotonic(), time.monotonic()))
            self._lock.notify_all()
            taken = self._responses.setdefault(path, [])
            used = len(taken) >= RESPONSE_URL_USES
            # Slack refuses a message it would refuse from chat.postEphemeral: HTTP 400, the
            # error as the body (as incoming webhooks answer).
            refused = None if used else refusal("chat.postEphemeral", body)
            if not used and refused is None:
                taken.append(body)
        answer = b"used_url" if used else str(refused["error"]).encode() if refused else b"ok"
        request.send_response(404 if used else 400 if refused else 200)
        request.send_header("Content-Type", "text/plain")
        request.send_header("Content-Length", str(len(answer)))
        request.end_headers()
        request.wfile.write(answer)

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
            "chat.delete": self._delete,
            "chat.getPermalink": self._permalink,
            "conversations.open": self._open,
            "conversations.members": self._members,
            "conversations.info": self._info,
            "conversations.history": self._history,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "views.open": self._view,
            "views.publish": self._publish,
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
        team = str(args.get("_team", self.team_id))
        return {"ok": True, "user": user.as_slack(team, locale=_flag(args.get("include_locale")))}

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
        refused = self._cannot_post(channel)
        if refused:
            return {"ok": False, "error": refused}
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
        refused = self._cannot_post(str(args["channel"]))
        if refused:
            return {"ok": False, "error": refused}
        return {"ok": True, "message_ts": self._next_ts()}

    def _cannot_post(self, channel: str) -> str | None:
        """Why the bot may not post in `channel` (None: it may): only in public channels
        (chat:write.public) and in the conversations it is in; never in an archived one."""
        with self._lock:
            known = self._channels.get(channel)
        if known is None:
            return None
        if known.archived:
            return "is_archived"
        if known.kind != "public" and not known.member:
            return "channel_not_found"
        return None

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        blocks = args.get("blocks")
        parsed = json.loads(blocks) if isinstance(blocks, str) else blocks
        refused = self._cannot_post(str(args.get("channel")))
        if refused:
            return {"ok": False, "error": refused}
        with self._lock:
            # A DM's messages are kept under the user id they were posted to.
            channel = str(args.get("channel"))
            stored = self._messages.get(self._ims.get(channel, channel), [])
            found = [m for m in stored if m["ts"] == args.get("ts")]
            if not found:
                return {"ok": False, "error": "message_not_found"}
            found[0]["text"] = args.get("text", "")
            if parsed is not None:
                found[0]["blocks"] = parsed
        return {
            "ok": True,
            "channel": args.get("channel"),
            "ts": args.get("ts"),
            "text": args.get("text", ""),
        }

    def _delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """chat.delete with a bot token: in a conversation (C…, G…, D…; a user id is no
        conversation), only a message the bot posted there."""
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        if channel[:1] not in ("C", "G", "D") or self._cannot_post(channel) is not None:
            return {"ok": False, "error": "channel_not_found"}
        if not ts:
            return {"ok": False, "error": "message_not_found"}
        with self._lock:
            stored = self._messages.get(self._ims.get(channel, channel), [])
            found = next((m for m in stored if m["ts"] == ts), None)
            if found is None:
                return {"ok": False, "error": "message_not_found"}
            if found.get("user") != self.bot_user_id:
                return {"ok": False, "error": "cant_delete_message"}
            stored.remove(found)
            self._deleted.append({**found, "channel": channel})
        return {"ok": True, "channel": channel, "ts": ts}

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
            if stored is None and channel in self._ims:
                stored = []  # a DM opened, nothing said in it yet
            if stored is None:
                return {"ok": False, "error": "channel_not_found"}
            keep_metadata = str(args.get("include_all_metadata")).lower() in ("1", "true")
            limit = min(int(args.get("limit") or 100), 999)
            if self.history_limited:  # the limit's default and most are 15 in that mode
                limit = min(int(args.get("limit") or LIMITED_HISTORY_PAGE), LIMITED_HISTORY_PAGE)
            newest = list(reversed(stored))[:limit]
        messages = [
            m if keep_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in newest
        ]
        return {"ok": True, "messages": messages, "has_more": len(stored) > limit}

    def _members(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            known = self._channels.get(str(args.get("channel")))
            members = self._channel_members.get(str(args.get("channel")))
        if known is not None and known.kind != "public" and not known.member:
            return {"ok": False, "error": "channel_not_found"}
        if known is not None and known.kind in ("im", "mpim"):
            # The manifest asks for channels:read and groups:read, not im:read or mpim:read.
            return {"ok": False, "error": "missing_scope", "needed": f"{known.kind}:read"}
        if members is None:
            # A channel never added is a public one (as for posts), its members unknown here.
            members = known.members if known is not None else []
        # Two to a page, to exercise the cursor.
        start = int(args.get("cursor") or 0)
        page = members[start : start + 2]
        cursor = str(start + 2) if start + 2 < len(members) else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}

    def _info(self, args: dict[str, Any]) -> dict[str, Any]:
        """conversations.info: a private conversation the bot is not in is not found; a
        direct message needs im:read or mpim:read, which the manifest does not ask for."""
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        with self._lock:
            known = self._channels.get(channel)
        if known is not None and known.kind in ("im", "mpim"):
            return {"ok": False, "error": "missing_scope", "needed": f"{known.kind}:read"}
        if known is not None and known.kind == "private" and not known.member:
            return {"ok": False, "error": "channel_not_found"}
        kind = known.kind if known is not None else "public"
        shared = known.ext_shared if known is not None else False
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_channel": kind == "public",
                "is_group": kind == "private",
                "is_im": False,
                "is_mpim": False,
                "is_private": kind == "private",
                "is_archived": known.archived if known is not None else False,
                "is_member": known.member if known is not None else False,
                "is_shared": shared,
                "is_ext_shared": shared,
                "is_org_shared": False,
                "is_pending_ext_shared": False,
                "context_team_id": self.team_id,
                "created": 1700000000,
            },
        }

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

    def _publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.publish: a user's Home tab; only a view of type `home`, for a known user."""
        view = args.get("view")
        parsed = json.loads(view) if isinstance(view, str) else view
        user = str(args.get("user_id") or "")
        with self._lock:
            known = user in self._users
        if not user or not isinstance(parsed, dict):
            return {"ok": False, "error": "invalid_arguments"}
        if not known:
            return {"ok": False, "error": "user_not_found"}
        if parsed.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {"id": "VHOME", "hash": "1.home", **parsed}}

    def _view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        parsed = json.loads(view) if isinstance(view, str) else view
        if not args.get("trigger_id") and not args.get("view_id"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {"id": "V0001", "hash": "1.abc", **(parsed or {})}}

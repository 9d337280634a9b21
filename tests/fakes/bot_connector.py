"""A fake Bot Framework Connector (plus Entra ID token endpoint and Bot Framework OpenID keys)
on loopback: the Connector's wire format, recorded calls, injected failures.

The people, bot and places the Teams fixtures in `tests/payloads/teams/` use:

=============  ==========  =======================================  ========================
who            29: id      AAD object id                            email
=============  ==========  =======================================  ========================
Megan Bowen    29:1megan   a1b2c3d4-0000-4000-8000-00000000000a     meganb@contoso.example
Alex Wilber    29:1alex    a1b2c3d4-0000-4000-8000-00000000000b     alexw@contoso.example
Adele Vance    29:1adele   a1b2c3d4-0000-4000-8000-00000000000c     adelev@contoso.example
=============  ==========  =======================================  ========================

Tenant `TENANT_ID`; the bot is `BOT_ID` ("28:" + `BOT_APP_ID`) named "Plaudit". `add_people()`
registers the three people; `PEOPLE`, `TEAM_ID`, `KUDOS_CHANNEL_ID`, `GROUP_CHAT_ID` and
`personal_conversation_id(...)` give the remaining ids the fixtures use. `submitted()` fills
in a card as a Teams client sends it back (a multi-select's values joined with commas).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes import loopback

TENANT_ID = "72f988bf-0000-0000-0000-000000000001"
BOT_APP_ID = "00000000-0000-0000-0000-0000000b0001"
BOT_ID = f"28:{BOT_APP_ID}"
BOT_NAME = "Plaudit"
BOT_APP_PASSWORD = "plaudit-test-secret"
PLACEHOLDER_SERVICE_URL = "https://smba.trafficmanager.net/amer/"
TEAM_ID = "19:0f5d3b1a9c7e4f2a8b6d4c2e0a9f7b5d@thread.tacv2"  # also the General channel
TEAM_AAD_GROUP_ID = "3f2a1b0c-0000-4000-8000-0000000000f1"
KUDOS_CHANNEL_ID = "19:7c1e9a3f5b2d4e6a8c0f1b3d5e7a9c2e@thread.tacv2"
GROUP_CHAT_ID = "19:4b8e2d6f0a1c3e5b7d9f2a4c6e8b0d1f@thread.v2"
BOTFRAMEWORK_ISSUER = "https://api.botframework.com"
SPEC_PATH = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "specs"
    / "botframework"
    / "ConnectorAPI.json"
)
# Teams serves these on the Connector too, outside ConnectorAPI.json.
TEAMS_EXTENSIONS = (
    ("GET", "/v3/conversations/{conversationId}/members/{memberId}"),
    ("GET", "/v3/teams/{teamId}"),
    ("GET", "/v3/teams/{teamId}/conversations"),
)


@dataclass(frozen=True)
class TeamsUser:
    user_id: str
    aad_id: str
    name: str
    email: str
    tenant_id: str = TENANT_ID
    user_role: str = "user"

    @property
    def given_name(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def surname(self) -> str:
        return self.name.split(" ", 1)[1] if " " in self.name else ""

    def as_teams(self) -> dict[str, Any]:
        """A TeamsChannelAccount, as GET .../members/{memberId} returns it."""
        return {
            "id": self.user_id,
            "name": self.name,
            "aadObjectId": self.aad_id,
            "email": self.email,
            "userPrincipalName": self.email,
            "givenName": self.given_name,
            "surname": self.surname,
            "tenantId": self.tenant_id,
            "userRole": self.user_role,
        }


MEGAN = TeamsUser(
    "29:1megan", "a1b2c3d4-0000-4000-8000-00000000000a", "Megan Bowen", "meganb@contoso.example"
)
ALEX = TeamsUser(
    "29:1alex", "a1b2c3d4-0000-4000-8000-00000000000b", "Alex Wilber", "alexw@contoso.example"
)
ADELE = TeamsUser(
    "29:1adele", "a1b2c3d4-0000-4000-8000-00000000000c", "Adele Vance", "adelev@contoso.example"
)
PEOPLE = (MEGAN, ALEX, ADELE)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def personal_conversation_id(user_id: str, tenant_id: str = TENANT_ID) -> str:
    """The stable 1:1 conversation id between the bot and `user_id`."""
    return "a:1" + _b64url(hashlib.sha256(f"{tenant_id}|{user_id}".encode()).digest())


@functools.cache
def _signing_key(which: str) -> rsa.RSAPrivateKey:
    """One key per role and process: RSA generation is slow enough to share."""
    del which
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _kid(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _b64url(hashlib.sha1(der).digest())


def _int_b64(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class Call:
    """One request, recorded once it was answered."""

    method: str
    path: str  # as requested, without the query string
    body: Any  # parsed JSON, a dict for form posts, or None
    headers: dict[str, str]  # lower-case names
    at: float  # time.monotonic() on arrival
    query: dict[str, str] = field(default_factory=dict)
    status: int = 0  # what the fake answered


@dataclass
class Sent:
    """An activity the bot created, sent, replied or updated."""

    kind: str  # create | send | reply | update; delete in `FakeConnector.deleted()`
    conversation_id: str
    activity_id: str
    body: dict[str, Any]
    reply_to_id: str | None
    at: float


@dataclass
class _Failure:
    status: int
    retry_after: float | None
    body: dict[str, Any] | None
    times: int
    path_contains: str | None
    method: str | None


@dataclass
class _Conversation:
    id: str
    tenant_id: str | None
    members: list[str]
    is_group: bool


_FAILURE_ERRORS = {
    400: ("BadArgument", "The request was malformed."),
    403: ("BotNotInConversationRoster", "The bot is not part of the conversation roster."),
    404: ("ConversationNotFound", "Conversation not found."),
    412: ("PreconditionFailed", "Precondition failed, please retry."),
    429: ("TooManyRequests", "Too many requests."),
    500: ("ServiceError", "Unknown error."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "Service unavailable."),
    504: ("GatewayTimeout", "Gateway timeout."),
}
_DENIED = {"message": "Authorization has been denied for this request."}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _base_conversation(conversation_id: str) -> str:
    return conversation_id.split(";messageid=", 1)[0]


@dataclass
class _Answer:
    status: int
    body: Any  # None sends an empty body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeConnector:
    """Answers like https://smba.trafficmanager.net/{region}/ and login.microsoftonline.com."""

    auth: bool = False
    app_id: str = BOT_APP_ID
    app_password: str = BOT_APP_PASSWORD
    region: str = "amer"
    max_activity_bytes: int = 28 * 1024  # Teams refuses larger activities with a 413
    token_expires_in: int = 3599
    issued_tokens: list[str] = field(default_factory=list)
    base_url: str = ""
    _calls: list[Call] = field(default_factory=list)
    _users: dict[str, TeamsUser] = field(default_factory=dict)
    _conversations: dict[str, _Conversation] = field(default_factory=dict)
    _members: dict[str, list[str]] = field(default_factory=dict)
    _sent: list[Sent] = field(default_factory=list)
    _live: dict[str, dict[str, Any]] = field(default_factory=dict)  # activity id -> latest
    _live_conversation: dict[str, str] = field(default_factory=dict)
    _deleted: list[Sent] = field(default_factory=list)  # what DeleteActivity removed
    _failures: list[_Failure] = field(default_factory=list)
    _delays: list[tuple[str | None, float]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1717423300000))
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FakeConnector:
        self._server, _ = loopback.serve(self._handle)
        self.base_url = loopback.base_url(self._server)
        return self

    def stop(self) -> None:
        loopback.stop(self._server)
        self._server = None

    def __enter__(self) -> FakeConnector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def service_url(self) -> str:
        return f"{self.base_url}/{self.region}/"

    @property
    def openid_metadata_url(self) -> str:
        return f"{self.base_url}/openid/.well-known/openidconfiguration"

    def login_url(self, tenant: str = "botframework.com") -> str:
        """The authority; its token URL is this + "/oauth2/v2.0/token"."""
        return f"{self.base_url}/{tenant}"

    def token_url(self, tenant: str = "botframework.com") -> str:
        return f"{self.login_url(tenant)}/oauth2/v2.0/token"

    # -- scripting ---------------------------------------------------------------------
    def add_user(
        self,
        aad_id: str,
        name: str,
        email: str,
        *,
        user_id: str | None = None,
        tenant_id: str = TENANT_ID,
        user_role: str = "user",
    ) -> TeamsUser:
        user_id = user_id or "29:1" + _b64url(hashlib.sha256(aad_id.encode()).digest())[:40]
        user = TeamsUser(user_id, aad_id, name, email, tenant_id, user_role)
        with self._lock:
            self._users[user_id] = user
        return user

    def add_people(self) -> tuple[TeamsUser, ...]:
        """Megan, Alex and Adele, with the ids the Teams fixtures use."""
        for person in PEOPLE:
            self.add_user(
                person.aad_id,
                person.name,
                person.email,
                user_id=person.user_id,
                tenant_id=person.tenant_id,
            )
        return PEOPLE

    def set_members(self, conversation_id: str, user_ids: list[str]) -> None:
        """Limit a conversation's roster; otherwise every user of the tenant is a member."""
        with self._lock:
            self._members[_base_conversation(conversation_id)] = list(user_ids)

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: float | None = None,
        path_contains: str | None = None,
        method: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next `times` matching requests with `status`. Without `path_contains`
        only Connector (/v3/) requests match, so token fetches do not use up the failure."""
        with self._lock:
            self._failures.append(_Failure(status, retry_after, body, times, path_contains, method))

    def delay(self, seconds: float, *, path_contains: str | None = None) -> None:
        """Hold matching requests (all /v3/ ones by default) this long; 0 clears."""
        with self._lock:
            self._delays = [d for d in self._delays if d[0] != path_contains]
            if seconds > 0:
                self._delays.append((path_contains, seconds))

    def revoke_tokens(self) -> None:
        """Forget issued access tokens, so the next Connector call answers 401."""
        with self._lock:
            self.issued_tokens.clear()

    def reset(self) -> None:
        """Forget calls, activities, conversations, failures and delays; keep people and
        tokens."""
        with self._lock:
            self._calls.clear()
            self._sent.clear()
            self._live.clear()
            self._live_conversation.clear()
            self._deleted.clear()
            self._conversations.clear()
            self._failures.clear()
            self._delays.clear()

    # -- inbound tokens ------------------------------------------------------------------
    @property
    def kid(self) -> str:
        return _kid(_signing_key("channel"))

    def jwks(self) -> dict[str, Any]:
        numbers = _signing_key("channel").public_key().public_numbers()
        key = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _int_b64(numbers.n),
            "e": _int_b64(numbers.e),
            "endorsements": ["msteams"],
        }
        return {"keys": [key]}

    def inbound_token(
        self,
        *,
        audience: str | None = None,
        service_url: str | None = None,
        issuer: str = BOTFRAMEWORK_ISSUER,
        expires_in: int = 3600,
        kid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        """A channel-to-bot JWT as Teams sends in `Authorization: Bearer ...`."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "serviceurl": service_url if service_url is not None else self.service_url,
            "nbf": now - 300,
            "exp": now + expires_in,
            "iss": issuer,
            "aud": audience if audience is not None else self.app_id,
            "iat": now - 300,
            **(extra_claims or {}),
        }
        headers = {"kid": kid or self.kid, "x5t": kid or self.kid, "typ": "JWT"}
        return jwt.encode(
            claims, key or _signing_key("channel"), algorithm="RS256", headers=headers
        )

    def forged_token(self, **kwargs: Any) -> str:
        """Like `inbound_token`, with the served `kid` but signed by a key nobody publishes."""
        return self.inbound_token(key=_signing_key("forger"), **kwargs)

    # -- inspection --------------------------------------------------------------------
    def calls(self, method: str | None = None, path_contains: str | None = None) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self._calls
                if (method is None or c.method == method.upper())
                and (path_contains is None or path_contains in unquote(c.path))
            ]

    def activities(self, conversation_id: str | None = None) -> list[Sent]:
        """What the bot posted, in order; a channel id also matches its threads."""
        with self._lock:
            return [
                s
                for s in self._sent
                if conversation_id is None
                or s.conversation_id == conversation_id
                or _base_conversation(s.conversation_id) == conversation_id
            ]

    def deleted(self, conversation_id: str | None = None) -> list[Sent]:
        """The activities DeleteActivity removed, in order, each as it stood then, with the
        conversation the request named; a channel id also matches its threads."""
        with self._lock:
            return [
                s
                for s in self._deleted
                if conversation_id is None
                or _base_conversation(s.conversation_id) == _base_conversation(conversation_id)
            ]

    def activity(self, activity_id: str) -> dict[str, Any] | None:
        """The activity as it stands now (after updates), or None once deleted."""
        with self._lock:
            return self._live.get(activity_id)

    def wait_for(
        self,
        match: int | Callable[[Call], bool] = 1,
        timeout: float = 5.0,
        *,
        count: int = 1,
    ) -> list[Call]:
        """Block until `match` Connector (/v3/) calls were answered, or until `count` calls
        satisfy the predicate `match`; returns those calls."""
        predicate: Callable[[Call], bool]
        if isinstance(match, int):
            count, predicate = match, _is_connector_call
        else:
            predicate = match
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [c for c in self._calls if predicate(c)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [f"{c.method} {c.path} -> {c.status}" for c in self._calls]
                    raise AssertionError(f"expected {count} matching calls, saw {seen}")
                self._lock.wait(left)

    # -- the wire ----------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        url = urlparse(request.path)
        raw = _read_body(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = _parse_body(raw, headers.get("content-type", ""))
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        call = Call(request.command, url.path, body, headers, arrived, query)
        connector = "/v3/" in url.path
        with self._lock:
            delay = self._delay_for(url.path, connector)
            failure = self._take_failure(request.command, url.path, connector)
        if delay:
            time.sleep(delay)
        if failure is not None:
            answer = self._failure_answer(failure)
        elif connector and self.auth and not self._authorised(headers):
            answer = _Answer(
                401, _DENIED, {"WWW-Authenticate": 'Bearer realm="api.botframework.com"'}
            )
        else:
            try:
                answer = self._route(request.command, url.path, body, query, raw)
            except Exception as exc:  # a bug in the fake should look like a 500, not a hang
                answer = _Answer(500, _error("ServiceError", f"fake connector: {exc!r}"))
        call.status = answer.status
        with self._lock:
            self._calls.append(call)
            self._lock.notify_all()
        _reply(request, answer)

    def _delay_for(self, path: str, connector: bool) -> float:
        for contains, seconds in self._delays:
            if (contains is None and connector) or (contains is not None and contains in path):
                return seconds
        return 0.0

    def _take_failure(self, method: str, path: str, connector: bool) -> _Failure | None:
        for failure in self._failures:
            if failure.method is not None and failure.method.upper() != method:
                continue
            if failure.path_contains is None and not connector:
                continue
            if failure.path_contains is not None and failure.path_contains not in unquote(path):
                continue
            failure.times -= 1
            if failure.times <= 0:
                self._failures.remove(failure)
            return failure
        return None

    @staticmethod
    def _failure_answer(failure: _Failure) -> _Answer:
        headers: dict[str, str] = {}
        if failure.retry_after is not None:
            value = failure.retry_after
            headers["Retry-After"] = str(int(value)) if float(value).is_integer() else str(value)
        if failure.body is not None:
            return _Answer(failure.status, failure.body, headers)
        if failure.status == 401:
            return _Answer(401, _DENIED, headers)
        code, message = _FAILURE_ERRORS.get(failure.status, ("ServiceError", "Unknown error."))
        return _Answer(failure.status, _error(code, message), headers)

    def _authorised(self, headers: dict[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            return scheme.lower() == "bearer" and token.strip() in self.issued_tokens

    def _route(
        self,
        method: str,
        path: str,
        body: Any,
        query: dict[str, str],
        raw: bytes,
    ) -> _Answer:
        if "/v3/" in path:
            parts = [unquote(p) for p in path.split("/v3/", 1)[1].split("/")]
            return self._connector(method, parts, body, query, raw)
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if method == "GET" and parts == ["openid", ".well-known", "openidconfiguration"]:
            return _Answer(200, self._openid_configuration())
        if method == "GET" and parts == ["openid", "keys"]:
            return _Answer(200, self.jwks())
        if method == "POST" and len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            return self._token(body)
        if method == "GET" and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return _Answer(200, self._tenant_configuration(parts[0]))
        return _Answer(404, _error("NotFound", f"No route for {method} {path}"))

    def _connector(
        self,
        method: str,
        parts: list[str],
        body: Any,
        query: dict[str, str],
        raw: bytes,
    ) -> _Answer:
        missing = _Answer(404, _error("NotFound", f"No route for {method} /v3/{'/'.join(parts)}"))
        if not parts or parts[0] != "conversations" or not all(parts[1:]):
            return missing
        match method, parts[1:]:
            case "POST", []:
                return self._create(body, raw)
            case "GET", []:
                return self._list_conversations()
            case "POST", [conversation, "activities"]:
                return self._post(conversation, None, body, raw)
            case "POST", [conversation, "activities", activity]:
                return self._post(conversation, activity, body, raw)
            case "PUT", [conversation, "activities", activity]:
                return self._update(conversation, activity, body, raw)
            case "DELETE", [conversation, "activities", activity]:
                return self._delete(conversation, activity)
            case "GET", [conversation, "members"] | [conversation, "activities", _, "members"]:
                return _Answer(200, self._roster(conversation))
            case "GET", [conversation, "members", member]:
                return self._member(conversation, member)
            case "GET", [conversation, "pagedmembers"]:
                return self._paged(conversation, query)
        return missing

    # -- Connector operations -------------------------------------------------------------
    def _next_id(self) -> str:
        return str(next(self._ids))

    def _create(self, params: Any, raw: bytes = b"") -> _Answer:
        if not isinstance(params, dict):
            return _Answer(400, _error("BadSyntax", "Incorrect conversation creation parameters"))
        if len(raw) > self.max_activity_bytes:  # the first activity travels in the request
            return _Answer(413, _error("MessageSizeTooBig", "Message size too big."))
        lowered = {k.lower(): v for k, v in params.items()}  # the service ignores key case
        channel_data = lowered.get("channeldata") or {}
        tenant = lowered.get("tenantid") or (channel_data.get("tenant") or {}).get("id")
        members = [m.get("id", "") for m in lowered.get("members") or [] if isinstance(m, dict)]
        activity = lowered.get("activity")
        channel = (channel_data.get("channel") or {}).get("id")
        if lowered.get("isgroup") and channel:
            if not isinstance(activity, dict):
                return _Answer(400, _error("BadArgument", "A channel thread needs an activity"))
            activity_id = self._next_id()
            conversation_id = f"{channel};messageid={activity_id}"
            self._remember("create", conversation_id, activity_id, activity, None)
            with self._lock:
                self._conversations[conversation_id] = _Conversation(
                    conversation_id, tenant, [], True
                )
            return _Answer(
                201,
                {"id": conversation_id, "serviceUrl": self.service_url, "activityId": activity_id},
            )
        if lowered.get("isgroup") or len(members) != 1 or not tenant:
            return _Answer(400, _error("BadSyntax", "Incorrect conversation creation parameters"))
        user = self._find_user(members[0])
        if user is None or user.tenant_id != tenant:
            return _Answer(
                403, _error("Forbidden", f"The bot is not installed for member {members[0]}.")
            )
        conversation_id = personal_conversation_id(user.user_id, tenant)
        with self._lock:
            self._conversations[conversation_id] = _Conversation(
                conversation_id, tenant, [user.user_id], False
            )
        created: dict[str, Any] = {"id": conversation_id, "serviceUrl": self.service_url}
        if isinstance(activity, dict):
            # Teams names the first activity only when one was sent (no null activityId).
            created["activityId"] = self._next_id()
            self._remember("create", conversation_id, created["activityId"], activity, None)
        return _Answer(201, created)

    def _list_conversations(self) -> _Answer:
        with self._lock:
            conversations = [
                {"id": c.id, "members": [self._users[m].as_teams() for m in c.members]}
                for c in self._conversations.values()
            ]
        return _Answer(200, {"conversations": conversations, "continuationToken": None})

    def _check_activity(self, activity: Any, raw: bytes) -> _Answer | None:
        if len(raw) > self.max_activity_bytes:
            return _Answer(413, _error("MessageSizeTooBig", "Message size too big."))
        if not isinstance(activity, dict) or not activity.get("type"):
            return _Answer(400, _error("BadArgument", "Activity type is required."))
        if activity["type"] == "message" and not (
            activity.get("text") or activity.get("attachments")
        ):
            return _Answer(400, _error("BadArgument", "A message needs text or attachments."))
        return None

    def _post(
        self, conversation_id: str, reply_to: str | None, activity: Any, raw: bytes
    ) -> _Answer:
        problem = self._check_activity(activity, raw)
        if problem is not None:
            return problem
        activity_id = self._next_id()
        self._remember(
            "reply" if reply_to else "send", conversation_id, activity_id, activity, reply_to
        )
        return _Answer(201, {"id": activity_id})

    def _update(self, conversation_id: str, activity_id: str, activity: Any, raw: bytes) -> _Answer:
        with self._lock:
            known = self._live_conversation.get(activity_id)
        if known is None or _base_conversation(known) != _base_conversation(conversation_id):
            return _Answer(404, _error("ActivityNotFoundInConversation", "Activity not found."))
        problem = self._check_activity(activity, raw)
        if problem is not None:
            return problem
        self._remember("update", conversation_id, activity_id, activity, None)
        return _Answer(200, {"id": activity_id})

    def _delete(self, conversation_id: str, activity_id: str) -> _Answer:
        """DeleteActivity: only an activity of this conversation (or of another thread of its
        channel) that is still there; 404 otherwise, as for an update."""
        with self._lock:
            known = self._live_conversation.get(activity_id)
            if known is None or _base_conversation(known) != _base_conversation(conversation_id):
                return _Answer(404, _error("ActivityNotFoundInConversation", "Activity not found."))
            activity = self._live.pop(activity_id)
            del self._live_conversation[activity_id]
            self._deleted.append(
                Sent("delete", conversation_id, activity_id, activity, None, time.monotonic())
            )
        return _Answer(200, None)

    def _remember(
        self,
        kind: str,
        conversation_id: str,
        activity_id: str,
        activity: dict[str, Any],
        reply_to: str | None,
    ) -> None:
        stored = {**activity, "id": activity_id}
        with self._lock:
            self._sent.append(
                Sent(kind, conversation_id, activity_id, activity, reply_to, time.monotonic())
            )
            self._live[activity_id] = stored
            self._live_conversation[activity_id] = conversation_id

    def _find_user(self, member_id: str) -> TeamsUser | None:
        with self._lock:
            if member_id in self._users:
                return self._users[member_id]
            lowered = member_id.lower().removeprefix("8:orgid:")
            return next((u for u in self._users.values() if u.aad_id.lower() == lowered), None)

    def _roster_users(self, conversation_id: str) -> list[TeamsUser]:
        base = _base_conversation(conversation_id)
        with self._lock:
            conversation = self._conversations.get(conversation_id) or self._conversations.get(base)
            if base in self._members:
                ids = self._members[base]
            elif conversation is not None and not conversation.is_group:
                ids = conversation.members
            else:
                tenant = conversation.tenant_id if conversation else None
                ids = [u.user_id for u in self._users.values() if tenant in (None, u.tenant_id)]
            return [self._users[i] for i in ids if i in self._users]

    def _roster(self, conversation_id: str) -> list[dict[str, Any]]:
        return [u.as_teams() for u in self._roster_users(conversation_id)]

    def _member(self, conversation_id: str, member_id: str) -> _Answer:
        user = self._find_user(member_id)
        if user is None or user not in self._roster_users(conversation_id):
            return _Answer(
                404,
                _error(
                    "MemberNotFoundInConversation",
                    f"The member {member_id} is not found in the conversation.",
                ),
            )
        return _Answer(200, user.as_teams())

    def _paged(self, conversation_id: str, query: dict[str, str]) -> _Answer:
        members = self._roster(conversation_id)
        size = max(1, min(int(query.get("pageSize") or 200), 500))
        start = int(query.get("continuationToken") or 0)
        page = members[start : start + size]
        token = str(start + size) if start + size < len(members) else None
        return _Answer(200, {"members": page, "continuationToken": token})

    # -- identity -----------------------------------------------------------------------
    def _openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": BOTFRAMEWORK_ISSUER,
            "authorization_endpoint": "https://invalid.botframework.com",
            "jwks_uri": f"{self.base_url}/openid/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }

    def _tenant_configuration(self, tenant: str) -> dict[str, Any]:
        authority = self.login_url(tenant)
        return {
            "issuer": f"{authority}/v2.0",
            "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
            "token_endpoint": f"{authority}/oauth2/v2.0/token",
            "jwks_uri": f"{authority}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        }

    def _token(self, form: Any) -> _Answer:
        form = form if isinstance(form, dict) else {}
        if form.get("grant_type") != "client_credentials":
            return _Answer(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "AADSTS70003: The app requested an unsupported grant"
                    " type.",
                },
            )
        if form.get("client_id") != self.app_id or form.get("client_secret") != self.app_password:
            return _Answer(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                },
            )
        if not str(form.get("scope", "")).endswith("/.default"):
            return _Answer(
                400,
                {
                    "error": "invalid_scope",
                    "error_description": "AADSTS1002012: The provided value for scope is not"
                    " valid. Client credential flows must have a scope value with /.default.",
                },
            )
        token = secrets.token_urlsafe(48)
        with self._lock:
            self.issued_tokens.append(token)
        return _Answer(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.token_expires_in,
                "ext_expires_in": self.token_expires_in,
                "access_token": token,
            },
        )


# -- the client's side of a card --------------------------------------------------------------


def _card_inputs(items: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for item in items:
        if str(item.get("type") or "").startswith("Input.") and item.get("id"):
            yield item
        yield from _card_inputs(item.get("items") or [])
        for column in item.get("columns") or []:
            yield from _card_inputs(column.get("items") or [])


def submitted(
    card: Mapping[str, Any], filled: Mapping[str, str | list[str]] | None = None
) -> dict[str, str]:
    """A card's inputs as a Teams client sends them with an action's data: every input by
    its id, as shown unless `filled` says otherwise (text typed, or the choices picked by
    their titles; a people picker's by AAD object id). A choice set sends the values of the
    choices picked, joined with commas when it is multi-select, whatever those values hold."""
    filled = filled or {}
    sent: dict[str, str] = {}
    for item in _card_inputs(card.get("body") or []):
        ident = str(item["id"])
        if ident not in filled:
            sent[ident] = str(item.get("value") or "")
            continue
        wanted = filled[ident]
        if item.get("type") != "Input.ChoiceSet":
            assert isinstance(wanted, str), f"{ident} takes text, not {wanted!r}"
            sent[ident] = wanted
            continue
        picked = [wanted] if isinstance(wanted, str) else list(wanted)
        assert item.get("isMultiSelect") or len(picked) <= 1, f"{ident} takes one choice"
        if item.get("choices.data"):  # the people picker: the people it found
            values = picked
        else:
            by_title = {str(c["title"]): str(c["value"]) for c in item.get("choices") or []}
            missing = [p for p in picked if p not in by_title]
            assert not missing, f"{ident} offers no {missing}: {sorted(by_title)}"
            values = [by_title[p] for p in picked]
        sent[ident] = ",".join(values)
    return sent


def _is_connector_call(call: Call) -> bool:
    return "/v3/" in call.path


def _read_body(request: BaseHTTPRequestHandler) -> bytes:
    if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(request.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                request.rfile.readline()
                return b"".join(chunks)
            chunks.append(request.rfile.read(size))
            request.rfile.readline()
    length = int(request.headers.get("Content-Length") or 0)
    return request.rfile.read(length) if length else b""


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "x-www-form-urlencoded" in content_type:
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    try:
        return json.loads(text)
    except ValueError:
        return None


def _reply(request: BaseHTTPRequestHandler, answer: _Answer) -> None:
    data = b"" if answer.body is None else json.dumps(answer.body).encode()
    request.send_response(answer.status)
    if answer.body is not None:
        request.send_header("Content-Type", "application/json; charset=utf-8")
    request.send_header("Content-Length", str(len(data)))
    for name, value in answer.headers.items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(data)


# -- the spec -------------------------------------------------------------------------------
@functools.cache
def _spec() -> dict[str, Any] | None:
    if not SPEC_PATH.is_file():
        return None
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def _template_matches(template: str, parts: list[str]) -> bool:
    wanted = template.strip("/").split("/")
    return len(wanted) == len(parts) and all(
        (w.startswith("{") and w.endswith("}") and p) or w == p
        for w, p in zip(wanted, parts, strict=True)
    )


def _literals(template: str) -> int:
    return sum(1 for w in template.split("/") if w and not w.startswith("{"))


def spec_check(call: Call, *, case_sensitive: bool = True) -> list[str] | None:
    """Where `call` strays from ConnectorAPI.json: an unknown path or method, or top-level body
    keys that the body's definition lacks. None when the spec file is absent."""
    spec = _spec()
    if spec is None:
        return None
    path = urlparse(call.path).path
    if "/v3/" not in path:
        return [f"{call.method} {path}: not a Connector path"]
    parts = [unquote(p) for p in ("v3/" + path.split("/v3/", 1)[1]).split("/")]
    shown = "/" + "/".join(parts)
    method = call.method.lower()
    if any(m.lower() == method and _template_matches(t, parts) for m, t in TEAMS_EXTENSIONS):
        return []
    templates = sorted(
        (t for t in spec["paths"] if _template_matches(t, parts)), key=_literals, reverse=True
    )
    if not templates:
        return [f"{call.method} {shown}: no path in ConnectorAPI.json matches"]
    operation = next(
        (spec["paths"][t][method] for t in templates if method in spec["paths"][t]), None
    )
    if operation is None:
        return [f"{call.method} {shown}: {templates[0]} has no {call.method}"]
    problems: list[str] = []
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "body":
            continue
        if call.body is None:
            if parameter.get("required"):
                problems.append(f"{call.method} {shown}: body {parameter['name']} is required")
            continue
        ref = parameter.get("schema", {}).get("$ref", "")
        if not ref.startswith("#/definitions/") or not isinstance(call.body, dict):
            continue
        name = ref.removeprefix("#/definitions/")
        properties = set(spec["definitions"][name].get("properties", {}))
        folded = {p.lower() for p in properties}
        for key in call.body:
            if key in properties or (not case_sensitive and key.lower() in folded):
                continue
            hint = next((p for p in properties if p.lower() == key.lower()), None)
            extra = f" (the spec spells it {hint})" if hint else ""
            problems.append(f"{call.method} {shown}: {key!r} is not a property of {name}{extra}")
    return problems

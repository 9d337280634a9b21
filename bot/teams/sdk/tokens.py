"""Client-credentials tokens for the Bot Connector through MSAL, for any authority the
settings name (the public Microsoft login, a sovereign cloud, a private test rig on this
machine): one MSAL application, with its token cache, per authority and app in the process.
No Teams SDK is imported here: both transports use it."""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msal  # type: ignore[import-untyped]
import requests

PUBLIC_ISSUER = "https://api.botframework.com"
PUBLIC_OPENID = "https://login.botframework.com/v1/.well-known/openidconfiguration"
PUBLIC_EMULATOR_OPENID = (
    "https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration"
)
PUBLIC_LOGIN = "https://login.microsoftonline.com"
SCOPE = "https://api.botframework.com"
TIMEOUT = 10


@dataclass
class Client:
    app: Any  # msal.ConfidentialClientApplication, with its in-memory token cache
    lock: threading.Lock  # one token request at a time for this app


_clients: dict[tuple[str, str, str], Client] = {}
_clients_guard = threading.Lock()  # guards the dict only; never held across a request


def client(authority: str, app_id: str, secret: str) -> Client:
    """The MSAL application for this authority and app, made once (MSAL reads the
    authority's discovery document as it is made, so outside the guard)."""
    key = (authority, app_id, hashlib.sha256(secret.encode()).hexdigest())
    with _clients_guard:
        found = _clients.get(key)
    if found is not None:
        return found
    made = Client(application(authority, app_id, secret), threading.Lock())
    with _clients_guard:
        return _clients.setdefault(key, made)


def application(authority: str, app_id: str, secret: str) -> Any:
    parts = urlsplit(authority)
    http_client: _PlainLoopback | None = None
    if parts.scheme == "http":
        if not _loopback(parts.hostname):
            raise PermissionError("a token authority over plain HTTP must be on this machine")
        http_client = _PlainLoopback(f"http://{parts.netloc}")
        authority = "https://" + authority.removeprefix("http://")
    try:
        return msal.ConfidentialClientApplication(
            app_id,
            client_credential=secret,
            authority=authority,
            http_client=http_client,
            timeout=TIMEOUT,
            # The operator named this authority: MSAL need not ask Microsoft about it.
            instance_discovery=False,
        )
    except (requests.RequestException, ValueError) as exc:
        raise PermissionError(f"token authority {authority} unusable: {exc}") from exc


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


@dataclass
class _Answer:
    status_code: int
    text: str
    headers: dict[str, str]

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"{self.status_code} from the token authority")


class _PlainLoopback:
    """MSAL's HTTP client for an authority on plain HTTP on this machine (a local rig). MSAL
    takes only https:// authorities: it is given the https:// form of the address, its
    requests go out over http://, and the addresses in the answers are turned back."""

    def __init__(self, origin: str) -> None:
        self._plain = origin
        self._secure = "https://" + origin.removeprefix("http://")
        self._session = requests.Session()

    def _answer(self, response: requests.Response) -> _Answer:
        text = response.text.replace(self._plain, self._secure)
        return _Answer(response.status_code, text, dict(response.headers))

    def _url(self, url: str) -> str:
        if not url.startswith(self._secure):
            raise PermissionError(f"MSAL asked for {url}, outside the configured authority")
        return self._plain + url.removeprefix(self._secure)

    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> _Answer:
        response = self._session.get(
            self._url(url), params=params, headers=headers, timeout=TIMEOUT
        )
        return self._answer(response)

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **_: Any
    ) -> _Answer:
        response = self._session.post(
            self._url(url), params=params, data=data, headers=headers, timeout=TIMEOUT
        )
        return self._answer(response)

    def close(self) -> None:
        self._session.close()

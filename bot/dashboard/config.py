"""Settings of the web dashboard: how people sign in, and who may see what."""

from __future__ import annotations

from dataclasses import dataclass

MAX_MEMBERS_SEE_TOP = 1000


@dataclass(frozen=True)
class OidcConfig:
    """An OpenID Connect provider (authorization code flow with PKCE).

    `redirect_base_url` is the dashboard's public address, e.g.
    `https://plaudit.example.com/dashboard`; register `<redirect_base_url>/auth/callback`
    as the redirect URI with the provider.
    """

    issuer: str
    client_id: str
    client_secret: str
    redirect_base_url: str
    scopes: tuple[str, ...] = ("openid", "email", "profile")

    @property
    def redirect_uri(self) -> str:
        return self.redirect_base_url.rstrip("/") + "/auth/callback"

    def __repr__(self) -> str:  # keeps the client secret out of logs
        return f"OidcConfig(issuer={self.issuer!r}, client_id={self.client_id!r})"


@dataclass(frozen=True)
class DashboardConfig:
    """Dashboard settings.

    `proxy_header` (e.g. `X-Forwarded-Email`) signs in the member with that email when the
    request comes straight from one of `trusted_proxies`. The proxy must strip that header
    from what clients send, and the addresses must be what the ASGI server reports as the
    client (run uvicorn without rewriting the client from `X-Forwarded-For`, or list the
    addresses it reports). Role lists hold emails, as in `plaudit.yaml`; roster roles
    (`Member.roles`) add to them. `status` lists what is switched on (the environment's
    side of the configuration page).
    """

    secret_key: str
    proxy_header: str | None = None
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    oidc: OidcConfig | None = None
    secure_cookies: bool = True
    admins: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    safety: tuple[str, ...] = ()
    session_hours: int = 8
    status: tuple[str, ...] = ()  # what is on, for the configuration page (no secrets)
    # Several Slack workspaces counted apart: each viewer sees their own workspace's boards
    # and feed (people not in Slack: `home_workspace`'s); admins may pick one.
    workspaces_apart: bool = False
    home_workspace: str | None = None
    # `dashboard.members_see_top` in plaudit.yaml: a viewer who is only a member sees the
    # first N places of each board and their own row (the CSV export too); 0: every place.
    members_see_top: int = 0

    def __post_init__(self) -> None:
        if len(self.secret_key) < 32:
            raise ValueError("the dashboard secret_key needs at least 32 characters")
        if self.session_hours < 1:
            raise ValueError("session_hours must be at least 1")
        if not 0 <= self.members_see_top <= MAX_MEMBERS_SEE_TOP:
            raise ValueError(f"members_see_top must be from 0 to {MAX_MEMBERS_SEE_TOP}")

    def __repr__(self) -> str:  # keeps the secrets out of logs
        return (
            f"DashboardConfig(proxy_header={self.proxy_header!r}, oidc={self.oidc!r}, "
            f"secure_cookies={self.secure_cookies!r}, session_hours={self.session_hours!r})"
        )

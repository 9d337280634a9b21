"""`/`: a small page saying what answers here (name, version, health, metrics, dashboard,
documentation), and `/readme`: the README the package was built with."""

from __future__ import annotations

import functools
from html import escape
from importlib import metadata

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from bot.http.health import version
from bot.settings import Settings

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Plaudit {version}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}
code{{background:#f3f3f3;padding:0 .2em}}</style></head>
<body><h1>Plaudit <small>{version}</small></h1>
<p>Peer recognition for Slack and Microsoft Teams, with a compliance gate.</p>
<ul>
{links}
</ul>
<p>Slack posts to <code>/slack/events</code>, Teams to <code>/api/messages</code>,
BigCommerce to <code>/webhooks/bigcommerce</code>.</p>
</body></html>
"""
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


async def home(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    links = [
        ("/healthz", "/healthz", "alive, with the outbox backlog"),
        ("/readyz", "/readyz", "ready for traffic"),
        ("/metrics", "/metrics", "Prometheus metrics"),
    ]
    if settings.dashboard_enabled:
        links.append(("/dashboard/", "/dashboard", "the web dashboard (sign-in)"))
    else:
        links.append(("", "dashboard", "off: set PLAUDIT_DASHBOARD_SECRET"))
    if _readme():
        links.append(("/readme", "README", "set-up and operation"))
    links += [(url, label, "") for label, url in _project_urls()]
    items = "\n".join(_item(href, label, note) for href, label, note in links)
    page = _PAGE.format(version=escape(version()), links=items)
    return HTMLResponse(page, headers=_HEADERS)


async def readme(request: Request) -> Response:
    text = _readme()
    if not text:
        return PlainTextResponse("No README in this installation.\n", status_code=404)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8", headers=_HEADERS)


def _item(href: str, label: str, note: str) -> str:
    text = f" &ndash; {escape(note)}" if note else ""
    if not href:
        return f"<li>{escape(label)}{text}</li>"
    return f'<li><a href="{escape(href)}">{escape(label)}</a>{text}</li>'


@functools.cache
def _readme() -> str:
    try:
        return metadata.metadata("plaudit").get_payload() or ""  # type: ignore[attr-defined]
    except metadata.PackageNotFoundError:
        return ""


@functools.cache
def _project_urls() -> tuple[tuple[str, str], ...]:
    """(label, url) of the package's Project-URL entries that are http(s) addresses."""
    try:
        entries = metadata.metadata("plaudit").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return ()
    found = []
    for entry in entries:
        label, _, url = str(entry).partition(",")
        url = url.strip()
        if url.startswith(("https://", "http://")):
            found.append((label.strip() or url, url))
    return tuple(found)

"""The Microsoft Teams app package: manifest.json and its two icons, zipped for upload."""

from __future__ import annotations

import io
import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageDraw

MANIFEST_VERSION = "1.29"
GIVE_COMMAND = "giveKudos"  # the message extension's action command
SCHEMA_URL = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/"
    f"v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
)
BRAND = "#5B2D90"
COLOR_ICON = "color.png"
OUTLINE_ICON = "outline.png"
SCOPES = ("personal", "team", "groupChat")
COMMANDS = (
    ("kudos", "Recognise colleagues: kudos @name for … #value"),
    ("help", "How to give kudos and what is checked before a kudos is posted"),
    ("me", "Your kudos this quarter, given and received, and what is left today"),
    ("leaderboard", "The current recognition sprint's leaderboard"),
)
DESCRIPTION_SHORT = "Peer recognition with a compliance check before anything is posted"
DESCRIPTION_FULL = (
    "Plaudit is a self-hosted peer-recognition bot. Give colleagues kudos with "
    '"kudos @name for ... #value"; every kudos is checked against promotional-code and '
    "privacy rules before it is posted, and a possible adverse event goes to drug safety "
    "instead of the channel. Plaudit also runs scheduled pulse surveys, sends managers "
    "digests of their team's recognition, and posts a leaderboard for each recognition sprint."
)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_DOMAIN = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]+)?$")
# Fixed timestamps make the same inputs give a byte-identical package.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Developer:
    """Who publishes the app, as Teams shows it on the app's details page."""

    name: str = "Plaudit"
    website_url: str = "https://plaudit.example.com/"
    privacy_url: str = "https://plaudit.example.com/privacy"
    terms_url: str = "https://plaudit.example.com/terms"


def manifest(
    app_id: str,
    *,
    version: str,
    domains: Sequence[str] = (),
    developer: Developer | None = None,
) -> dict[str, Any]:
    """The manifest.json of the app whose bot is registered under `app_id`."""
    if not _GUID.match(app_id):
        raise ValueError(f"the Microsoft App ID must be a GUID, not {app_id!r}")
    if not _SEMVER.match(version):
        raise ValueError(f"the app version must look like 1.2.3, not {version!r}")
    dev = developer or Developer()
    for label, url in (
        ("website", dev.website_url),
        ("privacy", dev.privacy_url),
        ("terms of use", dev.terms_url),
    ):
        if not url.lower().startswith("https://"):
            raise ValueError(f"the {label} URL must start with https://, not {url!r}")
    commands = [{"title": title, "description": text} for title, text in COMMANDS]
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": app_id,
        "developer": {
            "name": dev.name,
            "websiteUrl": dev.website_url,
            "privacyUrl": dev.privacy_url,
            "termsOfUseUrl": dev.terms_url,
        },
        "name": {"short": "Plaudit", "full": "Plaudit recognition"},
        "description": {"short": DESCRIPTION_SHORT, "full": DESCRIPTION_FULL},
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": BRAND,
        "bots": [
            {
                "botId": app_id,
                "scopes": list(SCOPES),
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [{"scopes": [scope], "commands": commands} for scope in SCOPES],
            }
        ],
        "composeExtensions": [_message_extension(app_id)],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": list(dict.fromkeys(domain(d) for d in domains)),
    }


def _message_extension(app_id: str) -> dict[str, Any]:
    """The "Give kudos" action in a message's menu, the compose box and the command box: the
    kudos form as a dialog (composeExtension/fetchTask, then submitAction)."""
    command = {
        "id": GIVE_COMMAND,
        "type": "action",
        "title": "Give kudos",
        "description": "Recognise a colleague, or the author of this message",
        "context": ["message", "compose", "commandBox"],
        "fetchTask": True,
    }
    return {"botId": app_id, "commands": [command]}


def domain(value: str) -> str:
    """A host for validDomains; a full URL is cut down to its host."""
    host = urlsplit(value).netloc if "://" in value else value
    if not _DOMAIN.match(host):
        raise ValueError(f"{value!r} is not a domain such as plaudit.example.com")
    return host.lower()


def _star(cx: float, cy: float, outer: float) -> list[tuple[float, float]]:
    """The corners of a five-pointed star with one point up."""
    corners = []
    for k in range(10):
        radius = outer if k % 2 == 0 else outer * 0.382
        angle = math.radians(-90 + 36 * k)
        corners.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return corners


def _star_mask(size: int, outer: float, *, scale: int = 8) -> Image.Image:
    """A smooth star as an alpha mask: drawn large, then scaled down."""
    big = Image.new("L", (size * scale, size * scale), 0)
    # The star's lowest points sit at 0.809 R below its centre, its top at R above:
    # shifting the centre down evens the margins.
    centre_y = size / 2 + outer * (1 - math.cos(math.radians(36))) / 2
    corners = _star(size / 2 * scale, centre_y * scale, outer * scale)
    ImageDraw.Draw(big).polygon(corners, fill=255)
    return big.reduce(scale)


def color_icon() -> bytes:
    """The 192x192 full-colour icon: a white star on the brand colour, edge to edge.

    Teams asks for a full square and masks the corners itself; the star stays inside the
    central 120x120 safe area.
    """
    image = Image.new("RGB", (192, 192), BRAND)
    image.paste((255, 255, 255), (0, 0), _star_mask(192, 58))
    return _png(image)


def outline_icon() -> bytes:
    """The 32x32 outline icon: a white star on transparent."""
    image = Image.new("RGBA", (32, 32), (255, 255, 255, 0))
    image.putalpha(_star_mask(32, 14))
    return _png(image)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def write_package(
    out: Path,
    *,
    app_id: str,
    version: str,
    domains: Sequence[str] = (),
    developer: Developer | None = None,
) -> Path:
    """Write the app package to `out` in one step: a failure leaves no partial file."""
    data = manifest(app_id, version=version, domains=domains, developer=developer)
    files = {
        "manifest.json": (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
        COLOR_ICON: color_icon(),
        OUTLINE_ICON: outline_icon(),
    }
    fd, temp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, content in files.items():
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, content)
        os.chmod(temp, 0o644)
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return out

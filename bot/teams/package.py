"""The Microsoft Teams app package: manifest.json, two icons and a file per language, zipped."""

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

from handlers import i18n
from handlers.i18n import N_, _

MANIFEST_VERSION = "1.29"
GIVE_COMMAND = "giveKudos"  # the message extension's action command
_SCHEMAS = f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}"
SCHEMA_URL = f"{_SCHEMAS}/MicrosoftTeams.schema.json"
LOCALIZATION_SCHEMA_URL = f"{_SCHEMAS}/MicrosoftTeams.Localization.schema.json"
DEFAULT_LANGUAGE_TAG = "en-us"  # the manifest's own words
# Tagged by language alone: Teams lays a "de" file over the manifest for de-DE, de-AT and
# de-CH alike, where a "de-de" one would leave Austria and Switzerland in English.
TRANSLATED = tuple(language for language in i18n.LANGUAGES if language != i18n.SOURCE)
BRAND = "#5B2D90"
COLOR_ICON = "color.png"
OUTLINE_ICON = "outline.png"
SCOPES = ("personal", "team", "groupChat")
# The most characters Teams takes (manifest and localization schemas); a bot command's
# description keeps to the 128 of a message extension's, as earlier manifest versions asked.
NAME_FULL_LIMIT = 100
DESCRIPTION_SHORT_LIMIT = 80
DESCRIPTION_FULL_LIMIT = 4000
COMMAND_TITLE_LIMIT = 32
COMMAND_DESCRIPTION_LIMIT = 128

NAME = "Plaudit"  # the product's name, the same in every language
# i18n: at most 100 characters (Teams app full name)
NAME_FULL = N_("Plaudit recognition")
# A bot command's title is the word Teams sends the bot when it is chosen, so it stays the word
# the bot understands (`help`, `me`); only what it does is translated.
COMMANDS = (
    # i18n: at most 128 characters (Teams bot command description)
    # i18n: keep kudos, @name and #value as they are: they show what to type
    ("kudos", N_("Recognise colleagues: kudos @name for … #value")),
    # i18n: at most 128 characters (Teams bot command description)
    ("help", N_("How to give kudos and what is checked before a kudos is posted")),
    # i18n: at most 128 characters (Teams bot command description)
    ("me", N_("Your kudos this quarter, given and received, and what is left today")),
    # i18n: at most 128 characters (Teams bot command description)
    ("leaderboard", N_("The current recognition sprint's leaderboard")),
)
# i18n: at most 80 characters (Teams app short description)
DESCRIPTION_SHORT = N_("Peer recognition with a compliance check before anything is posted")
# i18n: at most 4000 characters (Teams app full description)
# i18n: in "kudos @name for ... #value" translate only "for": it shows what to type
DESCRIPTION_FULL = N_(
    "Plaudit is a self-hosted peer-recognition bot. Give colleagues kudos with "
    '"kudos @name for ... #value"; every kudos is checked against promotional-code and '
    "privacy rules before it is posted, and a possible adverse event goes to drug safety "
    "instead of the channel. Plaudit also runs scheduled pulse surveys, sends managers "
    "digests of their team's recognition, and posts a leaderboard for each recognition sprint."
)
# i18n: at most 32 characters (Teams message extension command title)
GIVE_TITLE = N_("Give kudos")
# i18n: at most 128 characters (Teams message extension command description)
GIVE_DESCRIPTION = N_("Recognise a colleague, or the author of this message")

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


@dataclass(frozen=True)
class Words:
    """What Teams shows of the app, in one language, each cut to what Teams accepts."""

    name_full: str
    description_short: str
    description_full: str
    commands: tuple[str, ...]  # what each of COMMANDS does, in their order
    give_title: str
    give_description: str


def words() -> Words:
    """The app's words in the current language."""
    return Words(
        name_full=fit(_(NAME_FULL), NAME_FULL_LIMIT),
        description_short=fit(_(DESCRIPTION_SHORT), DESCRIPTION_SHORT_LIMIT),
        description_full=fit(_(DESCRIPTION_FULL), DESCRIPTION_FULL_LIMIT),
        commands=tuple(fit(_(text), COMMAND_DESCRIPTION_LIMIT) for _title, text in COMMANDS),
        give_title=fit(_(GIVE_TITLE), COMMAND_TITLE_LIMIT),
        give_description=fit(_(GIVE_DESCRIPTION), COMMAND_DESCRIPTION_LIMIT),
    )


def fit(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, ending with "…" where it was cut: Teams refuses
    a package with a longer string, so a long translation must not stop the upload."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
    # The manifest's own words are English whatever the organisation's language: it is the
    # default the localization files are laid over.
    with i18n.speaking(i18n.SOURCE):
        text = words()
    commands = [
        {"title": title, "description": description}
        for (title, _text), description in zip(COMMANDS, text.commands, strict=True)
    ]
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
        "name": {"short": NAME, "full": text.name_full},
        "description": {"short": text.description_short, "full": text.description_full},
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
        "composeExtensions": [_message_extension(app_id, text)],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": list(dict.fromkeys(domain(d) for d in domains)),
        "localizationInfo": _localization_info(),
    }


def _message_extension(app_id: str, text: Words) -> dict[str, Any]:
    """The "Give kudos" action in a message's menu, the compose box and the command box: the
    kudos form as a dialog (composeExtension/fetchTask, then submitAction)."""
    command = {
        "id": GIVE_COMMAND,
        "type": "action",
        "title": text.give_title,
        "description": text.give_description,
        "context": ["message", "compose", "commandBox"],
        "fetchTask": True,
    }
    return {"botId": app_id, "commands": [command]}


def _localization_info() -> dict[str, Any]:
    """The manifest's languages: its own, and the file each other one's words are in."""
    return {
        "defaultLanguageTag": DEFAULT_LANGUAGE_TAG,
        "additionalLanguages": [
            {"languageTag": language, "file": localization_file(language)}
            for language in TRANSLATED
        ],
    }


def localization_file(language: str) -> str:
    return f"{language}.json"


def localization(language: str) -> dict[str, str]:
    """The localization file for `language`: the manifest's words in it, each under the key
    Teams finds its place in the manifest by. What it leaves out stays as the manifest has it."""
    with i18n.speaking(language):
        text = words()
    entries = {
        "$schema": LOCALIZATION_SCHEMA_URL,
        "name.short": NAME,
        "name.full": text.name_full,
        "description.short": text.description_short,
        "description.full": text.description_full,
    }
    for listed in range(len(SCOPES)):  # the same commands in each scope's list
        for number, description in enumerate(text.commands):
            entries[f"bots[0].commandLists[{listed}].commands[{number}].description"] = description
    entries["composeExtensions[0].commands[0].title"] = text.give_title
    entries["composeExtensions[0].commands[0].description"] = text.give_description
    return entries


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


def _json(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


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
        "manifest.json": _json(data),
        COLOR_ICON: color_icon(),
        OUTLINE_ICON: outline_icon(),
    }
    for language in TRANSLATED:
        files[localization_file(language)] = _json(localization(language))
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

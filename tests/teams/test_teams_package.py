"""The Teams app package: what the zip holds, the manifest against Microsoft's schema, the CLI."""

from __future__ import annotations

import io
import json
import re
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from PIL import Image

from bot.cli.main import main
from bot.teams import package as teams_package
from handlers import i18n

SHARED = Path(__file__).resolve().parents[3] / "shared"
SCHEMA = SHARED / "specs" / "teams" / "MicrosoftTeams.schema.json"
SCHEMA_MISSING = (
    "../shared/specs/teams/MicrosoftTeams.schema.json is not present (it ships separately); "
    "manifest schema check skipped"
)
APP_ID = "2f0d8a3c-6b1e-4c59-9a7e-51d2c3b4a5f6"
TRANSLATED = [language for language in i18n.LANGUAGES if language != i18n.SOURCE]
LOCALIZATION_FILES = [f"{language}.json" for language in TRANSLATED]
# The keys a localization file may hold for what the manifest has (Microsoft's localization
# schema, v1.29: its other keys are for tabs, activities, Office add-ins...) and how long each
# may be; a bot command keeps to 32 and 128 characters, as a message extension's command must
# and as earlier manifest versions asked.
ACCEPTED = {
    r"name\.short": 30,
    r"name\.full": 100,
    r"description\.short": 80,
    r"description\.full": 4000,
    r"bots\[0\]\.commandLists\[[0-2]\]\.commands\[([0-9]|1[0-1])\]\.title": 32,
    r"bots\[0\]\.commandLists\[[0-2]\]\.commands\[([0-9]|1[0-1])\]\.description": 128,
    r"composeExtensions\[0\]\.commands\[[0-9]\]\.title": 32,
    r"composeExtensions\[0\]\.commands\[[0-9]\]\.description": 128,
}
REQUIRED = {"name.short", "description.short", "description.full"}


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.fixture
def package(tmp_path: Path) -> dict[str, bytes]:
    out = teams_package.write_package(
        tmp_path / "plaudit-teams.zip",
        app_id=APP_ID,
        version="1.4.2",
        domains=["plaudit.example.org"],
    )
    return read_zip(out)


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    """A validator for Microsoft's manifest schema, of the draft its `$schema` names."""
    if not SCHEMA.is_file():
        pytest.skip(reason=SCHEMA_MISSING)
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    # No check_schema(): a few patterns use \p{L}, which JavaScript regexes know and Python's
    # re does not; none of them lies on the manifest's path.
    return jsonschema.validators.validator_for(schema)(schema)


def schema_errors(validator: jsonschema.protocols.Validator, manifest: dict[str, Any]) -> list[str]:
    """Schema errors, plus manifestVersion's `const`, which draft-04 does not enforce."""
    errors = [e.message for e in validator.iter_errors(manifest)]
    wanted = validator.schema["properties"]["manifestVersion"]["const"]
    if manifest.get("manifestVersion") != wanted:
        errors.append(f"manifestVersion {manifest.get('manifestVersion')!r} is not {wanted!r}")
    return errors


def test_package_holds_the_manifest_two_icons_and_a_file_per_language_at_the_root(
    package: dict[str, bytes],
) -> None:
    assert sorted(package) == sorted(
        ["color.png", "manifest.json", "outline.png", *LOCALIZATION_FILES]
    )
    icons = json.loads(package["manifest.json"])["icons"]
    assert icons == {"color": "color.png", "outline": "outline.png"}


def test_icons_have_the_sizes_and_colours_teams_asks_for(package: dict[str, bytes]) -> None:
    color = Image.open(io.BytesIO(package["color.png"]))
    assert color.format == "PNG" and color.size == (192, 192)
    assert color.convert("RGB").getpixel((0, 0)) == (0x5B, 0x2D, 0x90)
    assert color.convert("RGB").getpixel((96, 96)) == (255, 255, 255)

    outline = Image.open(io.BytesIO(package["outline.png"]))
    assert outline.format == "PNG" and outline.size == (32, 32) and outline.mode == "RGBA"
    alpha = outline.getchannel("A")
    low, high = alpha.getextrema()
    assert low == 0 and high == 255, "the outline icon needs transparent and opaque pixels"
    rgba = outline.tobytes()
    visible = {rgba[i : i + 3] for i in range(0, len(rgba), 4) if rgba[i + 3]}
    assert visible == {b"\xff\xff\xff"}, "every visible pixel of the outline icon is white"


def test_the_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    first, second = (
        teams_package.write_package(tmp_path / name, app_id=APP_ID, version="1.0.0")
        for name in ("a.zip", "b.zip")
    )
    assert first.read_bytes() == second.read_bytes()


def test_manifest_says_what_the_bot_offers(package: dict[str, bytes]) -> None:
    m = json.loads(package["manifest.json"])
    assert m["id"] == APP_ID and m["version"] == "1.4.2"
    assert m["name"] == {"short": "Plaudit", "full": "Plaudit recognition"}
    (bot,) = m["bots"]
    assert bot["botId"] == APP_ID
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert bot["supportsFiles"] is False and bot["isNotificationOnly"] is False
    assert [c["scopes"] for c in bot["commandLists"]] == [["personal"], ["team"], ["groupChat"]]
    for commands in bot["commandLists"]:
        titles = [c["title"] for c in commands["commands"]]
        assert titles == ["kudos", "help", "me", "leaderboard"]
    assert m["validDomains"] == ["plaudit.example.org"]
    assert m["developer"]["privacyUrl"].startswith("https://plaudit.example.com/")


def test_manifest_validates_against_the_teams_schema(
    validator: jsonschema.protocols.Validator, package: dict[str, bytes]
) -> None:
    m = json.loads(package["manifest.json"])
    assert schema_errors(validator, m) == []
    assert m["$schema"].endswith(f"/v{m['manifestVersion']}/MicrosoftTeams.schema.json")


def _bad_bot_id(m: dict[str, Any]) -> None:
    m["bots"][0]["botId"] = "plaudit-bot"


def _unknown_scope(m: dict[str, Any]) -> None:
    m["bots"][0]["scopes"].append("meeting")


def _long_short_name(m: dict[str, Any]) -> None:
    m["name"]["short"] = "Plaudit peer recognition for everyone"


def _old_manifest_version(m: dict[str, Any]) -> None:
    m["manifestVersion"] = "1.16"


@pytest.mark.parametrize(
    "spoil", [_bad_bot_id, _unknown_scope, _long_short_name, _old_manifest_version]
)
def test_the_schema_check_catches_a_broken_manifest(
    validator: jsonschema.protocols.Validator, spoil: Any
) -> None:
    m = teams_package.manifest(APP_ID, version="1.0.0")
    spoil(m)
    assert schema_errors(validator, m)


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"version": "1.0"}, "1.2.3"),
        ({"version": "1.0.0", "domains": ["not a domain"]}, "not a domain"),
        (
            {"version": "1.0.0", "developer": teams_package.Developer(privacy_url="http://x")},
            "https://",
        ),
    ],
)
def test_manifest_refuses_what_teams_would_reject(kwargs: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        teams_package.manifest(APP_ID, **kwargs)


def test_a_domain_given_as_a_url_is_cut_to_its_host() -> None:
    m = teams_package.manifest(
        APP_ID, version="1.0.0", domains=["https://Plaudit.Example.org/api/messages"]
    )
    assert m["validDomains"] == ["plaudit.example.org"]


def test_a_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "plaudit-teams.zip"

    def broken() -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(teams_package, "outline_icon", broken)
    with pytest.raises(OSError, match="disk full"):
        teams_package.write_package(out, app_id=APP_ID, version="1.0.0")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MICROSOFT_APP_ID", raising=False)
    return tmp_path


def test_cli_refuses_without_an_app_id(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["teams-package", "--out", "plaudit-teams.zip"]) == 2
    err = capsys.readouterr().err
    assert "MICROSOFT_APP_ID" in err and len(err.strip().splitlines()) == 1
    assert list(workdir.iterdir()) == []


def test_cli_refuses_an_app_id_that_is_not_a_guid(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MICROSOFT_APP_ID", "plaudit-bot")
    assert main(["teams-package"]) == 2
    assert "GUID" in capsys.readouterr().err
    assert list(workdir.iterdir()) == []


def test_cli_writes_the_package_with_the_app_id_from_the_environment(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MICROSOFT_APP_ID", APP_ID)
    assert main(["teams-package", "--domain", "plaudit.example.org", "--domain", "b.example"]) == 0
    assert "wrote plaudit-teams.zip" in capsys.readouterr().out
    assert [p.name for p in workdir.iterdir()] == ["plaudit-teams.zip"]
    m = json.loads(read_zip(workdir / "plaudit-teams.zip")["manifest.json"])
    assert m["id"] == m["bots"][0]["botId"] == APP_ID
    assert m["validDomains"] == ["plaudit.example.org", "b.example"]
    assert m["version"] == metadata.version("plaudit")

    assert (
        main(
            [
                "teams-package",
                "--out",
                "custom.zip",
                "--version",
                "2.3.4",
                "--website-url",
                "https://intranet.example.org/plaudit",
            ]
        )
        == 0
    )
    custom = json.loads(read_zip(workdir / "custom.zip")["manifest.json"])
    assert custom["version"] == "2.3.4" and custom["validDomains"] == []
    assert custom["developer"]["websiteUrl"] == "https://intranet.example.org/plaudit"
    assert custom["developer"]["termsOfUseUrl"] == "https://plaudit.example.com/terms"


def _at(manifest: dict[str, Any], key: str) -> Any:
    """The manifest's value a localization key such as "bots[0].commandLists[1].title" names."""
    found: Any = manifest
    for name, index in re.findall(r"(\w+)(?:\[(\d+)\])?", key):
        found = found[name]
        if index:
            found = found[int(index)]
    return found


def _localizations(package: dict[str, bytes]) -> dict[str, dict[str, str]]:
    return {language: json.loads(package[f"{language}.json"]) for language in TRANSLATED}


def test_the_manifest_names_a_localization_file_for_each_language_plaudit_speaks(
    package: dict[str, bytes],
) -> None:
    info = json.loads(package["manifest.json"])["localizationInfo"]
    assert info["defaultLanguageTag"] == "en-us"
    assert info["additionalLanguages"] == [
        {"languageTag": language, "file": f"{language}.json"} for language in TRANSLATED
    ]
    assert {entry["file"] for entry in info["additionalLanguages"]} <= set(package)


def test_a_localization_file_holds_only_keys_teams_accepts_within_its_limits(
    package: dict[str, bytes],
) -> None:
    m = json.loads(package["manifest.json"])
    schema = m["$schema"].replace("MicrosoftTeams.schema.json", "")
    for language, entries in _localizations(package).items():
        assert entries.pop("$schema") == f"{schema}MicrosoftTeams.Localization.schema.json"
        assert set(entries) >= REQUIRED, language
        for key, value in entries.items():
            (limit,) = [n for pattern, n in ACCEPTED.items() if re.fullmatch(pattern, key)]
            assert isinstance(value, str) and value.strip(), (language, key)
            assert len(value) <= limit, (language, key, value)
            assert isinstance(_at(m, key), str), f"{key} is nothing in the manifest"


def test_a_localization_file_holds_the_catalogues_translations(
    package: dict[str, bytes],
) -> None:
    m = json.loads(package["manifest.json"])
    extension = "composeExtensions[0].commands[0]"
    for language, entries in _localizations(package).items():
        with i18n.speaking(language):
            wanted = {
                "name.full": i18n._(teams_package.NAME_FULL),
                "description.short": i18n._(teams_package.DESCRIPTION_SHORT),
                "description.full": i18n._(teams_package.DESCRIPTION_FULL),
                f"{extension}.title": i18n._(teams_package.GIVE_TITLE),
                f"{extension}.description": i18n._(teams_package.GIVE_DESCRIPTION),
            }
            for listed in range(len(teams_package.SCOPES)):
                for number, (_title, text) in enumerate(teams_package.COMMANDS):
                    key = f"bots[0].commandLists[{listed}].commands[{number}].description"
                    wanted[key] = i18n._(text)
        assert entries["name.short"] == m["name"]["short"] == "Plaudit"
        for key, text in wanted.items():
            assert entries[key] == text != _at(m, key), (language, key)
        assert set(entries) == {"$schema", "name.short", *wanted}, language


def test_command_titles_stay_the_words_the_bot_understands(package: dict[str, bytes]) -> None:
    """Teams sends the bot a command's title when it is chosen: a translated one would be a
    word the bot does not know."""
    for entries in _localizations(package).values():
        assert not [key for key in entries if key.startswith("bots") and key.endswith("title")]


def test_a_translation_too_long_for_teams_is_cut_at_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(teams_package, "_", lambda message: message * 40)
    entries = teams_package.localization("de")
    assert len(entries["name.full"]) == 100 and entries["name.full"].endswith("…")
    assert len(entries["description.short"]) == 80
    assert len(entries["description.full"]) == 4000
    assert len(entries["composeExtensions[0].commands[0].title"]) == 32
    assert len(entries["bots[0].commandLists[2].commands[3].description"]) == 128
    assert teams_package.fit("Kudos geben", 32) == "Kudos geben"


def test_the_manifest_stays_english_whatever_the_organisation_speaks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    english = teams_package.manifest(APP_ID, version="1.0.0")
    monkeypatch.setattr(i18n, "_default", "en")
    i18n.configure("de")
    try:
        assert teams_package.manifest(APP_ID, version="1.0.0") == english
    finally:
        i18n.configure("en")
    assert english["composeExtensions"][0]["commands"][0]["title"] == "Give kudos"
    assert english["description"]["short"] == teams_package.DESCRIPTION_SHORT

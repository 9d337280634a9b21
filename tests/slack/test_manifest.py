"""The Slack app manifests (HTTP and Socket Mode) match what the code uses, and both match
Slack's published API."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.slack import shortcut

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT.parent / "shared" / "specs" / "slack"
SCOPES = {
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:read",
    "files:write",
    "groups:read",
    "im:history",
    "im:write",
    "reactions:read",
    "users:read",
    "users:read.email",
}
_CALL = re.compile(r"\.(auth|chat|users|views|conversations|reactions|files)_(\w+)\(")
# slack_sdk's upload helper calls these two methods, added to Slack in 2024: newer than the
# published API description, so they are checked against Slack's documented scope instead.
_UPLOAD = {"files.getUploadURLExternal", "files.completeUploadExternal"}
# Events newer than the published Events API description (which has `message.app_home`
# but not the Home tab's opening); Slack documents that they need no scope.
_NEWER_EVENTS = {"app_home_opened"}

needs_specs = pytest.mark.skipif(
    not SPECS.is_dir(),
    reason="Slack API descriptions not found at ../shared/specs/slack; "
    "the conformance checks need them",
)


HTTP = "app_manifest.yaml"
SOCKET = "app_manifest.socket.yaml"
MANIFESTS = [HTTP, SOCKET]


def manifest(name: str = HTTP) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    return data


def methods_called() -> set[str]:
    found = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for family, name in _CALL.findall(path.read_text(encoding="utf-8")):
            found |= _UPLOAD if (family, name) == ("files", "upload_v2") else {f"{family}.{name}"}
    return found


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_declares_the_command_events_and_only_the_scopes_used(name: str) -> None:
    m = manifest(name)
    (command,) = m["features"]["slash_commands"]
    assert command["command"] == "/kudos" and command["should_escape"] is True
    assert set(m["oauth_config"]["scopes"]["bot"]) == SCOPES
    settings = m["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "reaction_added",
        "reaction_removed",
        "app_uninstalled",
        "tokens_revoked",
        "app_home_opened",
    }
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True


def test_the_http_manifest_sends_everything_to_slack_events() -> None:
    m = manifest(HTTP)
    (command,) = m["features"]["slash_commands"]
    settings = m["settings"]
    urls = [
        command["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    ]
    assert all(url.endswith("/slack/events") for url in urls)
    assert m["oauth_config"]["redirect_urls"] == [
        "https://plaudit.example.com/slack/oauth_redirect"
    ]
    assert settings["socket_mode_enabled"] is False


def test_the_socket_manifest_uses_socket_mode_and_no_request_urls() -> None:
    m = manifest(SOCKET)
    (command,) = m["features"]["slash_commands"]
    settings = m["settings"]
    assert settings["socket_mode_enabled"] is True
    assert "url" not in command
    assert "request_url" not in settings["event_subscriptions"]
    assert "request_url" not in settings["interactivity"]


def test_the_two_manifests_differ_only_in_how_slack_reaches_plaudit() -> None:
    http, socket = manifest(HTTP), manifest(SOCKET)
    assert socket["oauth_config"]["scopes"] == http["oauth_config"]["scopes"]
    assert (
        socket["settings"]["event_subscriptions"]["bot_events"]
        == http["settings"]["event_subscriptions"]["bot_events"]
    )
    expected = copy.deepcopy(http)
    del expected["oauth_config"]["redirect_urls"]  # OAuth installs need HTTP
    for command in expected["features"]["slash_commands"]:
        del command["url"]
    del expected["settings"]["event_subscriptions"]["request_url"]
    del expected["settings"]["interactivity"]["request_url"]
    expected["settings"]["socket_mode_enabled"] = True
    assert socket == expected


@pytest.mark.parametrize("name", MANIFESTS)
def test_every_shortcut_has_a_listener(name: str) -> None:
    shortcuts = manifest(name)["features"]["shortcuts"]
    assert [s["callback_id"] for s in shortcuts] == [shortcut.CALLBACK]
    assert all(s["type"] == "message" and len(s["name"]) <= 24 for s in shortcuts)
    assert "commands" in manifest(name)["oauth_config"]["scopes"]["bot"]  # shortcuts need it


@pytest.mark.parametrize("name", MANIFESTS)
def test_every_subscribed_event_has_a_listener(name: str) -> None:
    source = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "bot" / "slack").glob("*.py"))
    for event in manifest(name)["settings"]["event_subscriptions"]["bot_events"]:
        assert f'@app.event("{event}")' in source


def test_the_code_calls_the_web_api_methods_we_expect() -> None:
    assert methods_called() == {
        "auth.revoke",  # a refused multi-workspace install gives its token back
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.getPermalink",
        "chat.update",
        "chat.delete",  # a kudos taken back: its post and DMs go
        "conversations.history",
        "conversations.info",  # whether a channel is shared with another organisation
        "conversations.members",
        "conversations.open",
        "users.info",
        "views.open",
        "views.publish",  # the App Home tab
        *_UPLOAD,
    }


@needs_specs
def test_each_method_called_has_one_of_its_scopes_requested() -> None:
    spec = json.loads((SPECS / "slack_web_openapi_v2.json").read_text(encoding="utf-8"))
    granted = SCOPES | {"chat:write:bot"}  # the description's older name for chat:write
    for method in methods_called() - _UPLOAD:
        (operation,) = spec["paths"][f"/{method}"].values()
        needed = {
            scope for entry in operation.get("security", []) for scope in entry.get("slackAuth", [])
        }
        needed.discard("none")
        assert not needed or needed & granted, (method, sorted(needed))
    assert "files:write" in SCOPES  # what files.getUploadURLExternal requires


@needs_specs
def test_every_method_called_exists_in_the_web_api_description() -> None:
    spec = json.loads((SPECS / "slack_web_openapi_v2.json").read_text(encoding="utf-8"))
    for method in methods_called() - _UPLOAD:
        assert f"/{method}" in spec["paths"], method


@needs_specs
@pytest.mark.parametrize("name", MANIFESTS)
def test_subscribed_events_exist_and_their_scopes_are_requested(name: str) -> None:
    spec = json.loads((SPECS / "slack_events_api_async_v1.json").read_text(encoding="utf-8"))
    m = manifest(name)
    for event in m["settings"]["event_subscriptions"]["bot_events"]:
        if event in _NEWER_EVENTS:
            continue  # needs no scope, as Slack documents it
        topic = spec["topics"][event.replace("_", ".")]
        assert set(topic["subscribe"]["x-scopes-required"]) <= set(
            m["oauth_config"]["scopes"]["bot"]
        ), event


@needs_specs
@pytest.mark.parametrize("name", ["event_reaction_added.json", "event_reaction_removed.json"])
def test_event_payload_fixtures_have_the_wrapper_fields(name: str) -> None:
    schema = json.loads(
        (SPECS / "slack_common_event_wrapper_schema.json").read_text(encoding="utf-8")
    )
    envelope = json.loads((ROOT / "tests" / "payloads" / name).read_text(encoding="utf-8"))
    # authed_users was replaced by `authorizations` in 2020; current payloads carry the latter.
    required = set(schema["required"]) - {"authed_users"}
    assert required <= set(envelope), required - set(envelope)
    assert "authorizations" in envelope
    assert set(schema["properties"]["event"]["required"]) <= set(envelope["event"])

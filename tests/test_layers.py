"""The layer arrows hold: handlers never see an SDK, storage and rules import nothing of ours."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"bot", "handlers", "compliance_rules", "storage"}
OUTER = {
    "slack_bolt",
    "slack_sdk",
    "botbuilder",
    "botframework",
    "requests",
    "apscheduler",
    "starlette",
    "fastapi",
    "uvicorn",
    "aiohttp",
    "httpx",
    "pydantic_settings",
    "dotenv",
    "os",
}
ALLOWED_OURS = {
    "bot": OURS,
    "handlers": {"handlers", "storage", "compliance_rules"},
    "compliance_rules": {"compliance_rules"},
    "storage": {"storage"},
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED_OURS))
def test_package_imports_only_what_its_layer_may(package: str) -> None:
    files = modules(package)
    assert files, f"{package}/ has no modules"
    for path in files:
        found = imports(path)
        ours = found & OURS
        assert ours <= ALLOWED_OURS[package], (
            f"{path.relative_to(ROOT)} imports {ours - ALLOWED_OURS[package]}"
        )
        if package != "bot":
            assert not found & OUTER, f"{path.relative_to(ROOT)} imports {found & OUTER}"


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import slack_sdk\nfrom bot.http.app import create_app\n", encoding="utf-8")
    assert {"slack_sdk", "bot"} <= imports(bad)


def test_only_the_teams_adapter_knows_botbuilder() -> None:
    """The Bot Framework SDK is archived: every import of it stays in bot/teams/, so a
    move to the Microsoft 365 Agents SDK touches that folder only."""
    sdk = {"botbuilder", "botframework", "msrest"}
    offenders = [
        str(path.relative_to(ROOT))
        for package in ALLOWED_OURS
        for path in modules(package)
        if imports(path) & sdk and not path.is_relative_to(ROOT / "bot" / "teams")
    ]
    assert offenders == []

"""The architecture holds: layer arrows, one folder per platform, no platform ids in the use
cases, SQL only in storage/ and handlers/, small modules and functions.

Each rule is a function over a source tree, so the tests at the end can show each one
failing on a tree that breaks it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"bot", "handlers", "compliance_rules", "storage"}
OUTER = {
    "slack_bolt",
    "slack_sdk",
    "botbuilder",
    "botframework",
    "msrest",
    "microsoft_agents",
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
BOT_FRAMEWORK = {"botbuilder", "botframework", "msrest"}
# Each Teams SDK is imported by its own transport's modules (bot/teams/sdk/) and nowhere else.
SDK_MODULES = {
    "bot/teams/sdk/botbuilder": BOT_FRAMEWORK,
    "bot/teams/sdk/agents": {"microsoft_agents"},
}
TEAMS_SDKS = BOT_FRAMEWORK | {"microsoft_agents"}
# Only the process's outer parts know both chat platforms.
BOTH_PLATFORMS = ("bot/http/", "bot/cli/", "bot/demo/")
# Member columns that hold a platform's ids: storage owns them; use cases speak of people.
PLATFORM_ID_FIELDS = re.compile(r"\b(slack_user_id|slack_team_id|teams_aad_id)\b")
# Building or running SQL: storage/ and handlers/ do it; in bot/ only the dashboard's
# read-only queries, named as such, and the scheduler's leadership lock (a session-level
# advisory lock on a connection of its own, which is process plumbing, not data).
SQL_NAMES = {"select", "insert", "update", "delete", "text", "func", "col", "union_all"}
SQL_ALLOWED_IN_BOT = ("bot/dashboard/queries", "bot/jobs/leader.py")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
SIZE_EXEMPT = ("storage/migrations/",)


def imports(path: Path) -> set[str]:
    """Top-level packages a module imports."""
    return {name.split(".")[0] for name in dotted_imports(path)}


def dotted_imports(path: Path) -> set[str]:
    """Every module a file imports, dotted (`from bot.slack import blocks` gives
    `bot.slack` and `bot.slack.blocks`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules(root: Path, package: str) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def layer_violations(root: Path) -> Iterator[str]:
    for package, allowed in ALLOWED_OURS.items():
        for path in modules(root, package):
            found = imports(path)
            if found & OURS - allowed:
                yield f"{rel(root, path)} imports {sorted(found & OURS - allowed)}"
            if package != "bot" and found & OUTER:
                yield f"{rel(root, path)} imports {sorted(found & OUTER)}"


def platform_violations(root: Path) -> Iterator[str]:
    for path in modules(root, "bot"):
        name = rel(root, path)
        found = dotted_imports(path)
        slack = any(m == "bot.slack" or m.startswith("bot.slack.") for m in found)
        teams = any(m == "bot.teams" or m.startswith("bot.teams.") for m in found)
        if name.startswith("bot/slack/") and teams:
            yield f"{name}: Slack imports Teams"
        if name.startswith("bot/teams/") and slack:
            yield f"{name}: Teams imports Slack"
        if slack and teams and not name.startswith(BOTH_PLATFORMS):
            yield f"{name} imports both platforms (only {', '.join(BOTH_PLATFORMS)} may)"
        yield from _sdk_violations(name, {m.split(".")[0] for m in found} & TEAMS_SDKS)


def _sdk_violations(name: str, sdks: set[str]) -> Iterator[str]:
    if not sdks:
        return
    home = next((prefix for prefix in SDK_MODULES if name.startswith(prefix)), None)
    if home is None:
        yield f"{name} imports a Teams SDK ({', '.join(sorted(sdks))}) outside its transport"
    elif sdks - SDK_MODULES[home]:
        other = ", ".join(sorted(sdks - SDK_MODULES[home]))
        yield f"{name} imports another transport's SDK ({other})"


def platform_id_violations(root: Path) -> Iterator[str]:
    for path in modules(root, "handlers"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PLATFORM_ID_FIELDS.search(line):
                yield f"{rel(root, path)}:{number} names a platform id field: {line.strip()}"


def sql_violations(root: Path) -> Iterator[str]:
    for path in modules(root, "bot"):
        name = rel(root, path)
        if name.startswith(SQL_ALLOWED_IN_BOT):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.split(".")[0] in ("sqlalchemy", "sqlmodel")
            ):
                built = {a.name for a in node.names} & SQL_NAMES
                if built:
                    yield f"{name}:{node.lineno} builds SQL ({', '.join(sorted(built))})"
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("exec", "execute")
            ):
                yield f"{name}:{node.lineno} runs SQL (.{node.func.attr})"


def own_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """A function's lines without the functions and classes defined inside it (a listener
    registration is measured listener by listener)."""
    total = (node.end_lineno or node.lineno) - node.lineno + 1
    for inner in ast.walk(node):
        if inner is not node and isinstance(
            inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        ):
            start = min([inner.lineno, *(d.lineno for d in inner.decorator_list)])
            total -= (inner.end_lineno or inner.lineno) - start + 1
    return total


def size_violations(root: Path) -> Iterator[str]:
    for package in sorted(ALLOWED_OURS):
        for path in modules(root, package):
            name = rel(root, path)
            if name.startswith(SIZE_EXEMPT):
                continue
            source = path.read_text(encoding="utf-8")
            lines = len(source.splitlines())
            if lines > MAX_MODULE_LINES:
                yield f"{name} has {lines} lines (at most {MAX_MODULE_LINES})"
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = own_lines(node)
                    if length > MAX_FUNCTION_LINES:
                        yield (
                            f"{name}:{node.lineno} {node.name}() has {length} lines "
                            f"(at most {MAX_FUNCTION_LINES})"
                        )


CHECKS = {
    "layers": layer_violations,
    "platforms": platform_violations,
    "platform ids": platform_id_violations,
    "sql": sql_violations,
    "size": size_violations,
}


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_the_tree_keeps_the_architecture(check: str) -> None:
    assert list(CHECKS[check](ROOT)) == []


def test_every_package_is_checked() -> None:
    for package in ALLOWED_OURS:
        assert modules(ROOT, package), f"{package}/ has no modules"
    assert modules(ROOT, "bot/slack") and modules(ROOT, "bot/teams")


# A tree that breaks each rule once: every check must see its own violation.
BAD_TREE = {
    "handlers/bad.py": (
        "import slack_sdk\n"
        "from bot.http.app import create_app\n"
        "def who(member):\n"
        "    return member.slack_user_id\n"
    ),
    "storage/bad.py": "from handlers import kudos\n",
    "compliance_rules/bad.py": "import os\n",
    "bot/slack/bad.py": "from bot.teams import render\n",
    "bot/teams/bad.py": "from bot.slack.blocks import escape\n",
    "bot/chat/bad.py": "from bot.slack import blocks\nfrom bot.teams import render\n",
    "bot/jobs/bad.py": (
        "from sqlmodel import select\n"
        "def count(session):\n"
        "    return session.exec(select(1)).one()\n"
    ),
    "bot/chat/framework.py": "from botbuilder.core import TurnContext\n",
    "bot/teams/turns.py": "from microsoft_agents.hosting.core import TurnContext\n",
    "bot/teams/sdk/agents_extra.py": "from botbuilder.schema import Activity\n",
    "bot/long.py": "x = 1\n" * (MAX_MODULE_LINES + 1),
    "bot/function.py": "def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES + "    return x\n",
}


@pytest.fixture
def bad_tree(tmp_path: Path) -> Path:
    for name, source in BAD_TREE.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return tmp_path


def test_each_check_fails_on_a_tree_that_breaks_it(bad_tree: Path) -> None:
    found = {check: list(run(bad_tree)) for check, run in CHECKS.items()}
    layers = "\n".join(found["layers"])
    assert "handlers/bad.py imports ['bot']" in layers
    assert "handlers/bad.py imports ['slack_sdk']" in layers
    assert "storage/bad.py imports ['handlers']" in layers
    assert "compliance_rules/bad.py imports ['os']" in layers
    platforms = "\n".join(found["platforms"])
    assert "bot/slack/bad.py: Slack imports Teams" in platforms
    assert "bot/teams/bad.py: Teams imports Slack" in platforms
    assert "bot/chat/bad.py imports both platforms" in platforms
    assert (
        "bot/chat/framework.py imports a Teams SDK (botbuilder) outside its transport" in platforms
    )
    assert "bot/teams/turns.py imports a Teams SDK (microsoft_agents) outside its transport" in (
        platforms
    )
    assert "bot/teams/sdk/agents_extra.py imports another transport's SDK (botbuilder)" in (
        platforms
    )
    assert found["platform ids"] == [
        "handlers/bad.py:4 names a platform id field: return member.slack_user_id"
    ]
    assert found["sql"] == [
        "bot/jobs/bad.py:1 builds SQL (select)",
        "bot/jobs/bad.py:3 runs SQL (.exec)",
    ]
    size = "\n".join(found["size"])
    assert f"bot/long.py has {MAX_MODULE_LINES + 1} lines" in size
    assert f"bot/function.py:1 f() has {MAX_FUNCTION_LINES + 2} lines" in size


def test_the_real_tree_would_fail_with_one_wrong_import(tmp_path: Path) -> None:
    """Copy the real Teams package, add one import of Slack to it: the check sees it."""
    for path in modules(ROOT, "bot/teams"):
        target = tmp_path / rel(ROOT, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert list(platform_violations(tmp_path)) == []
    render = tmp_path / "bot" / "teams" / "render.py"
    render.write_text(
        "from bot.slack import blocks as slack_render\n" + render.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    assert list(platform_violations(tmp_path)) == ["bot/teams/render.py: Teams imports Slack"]

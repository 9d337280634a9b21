"""What ships: `plaudit --version`, the lock file against pyproject's dependencies, and the
container build running the same script CI runs in a clean virtualenv."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from bot.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = "scripts/container_build.sh"


def pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        data: dict[str, object] = tomllib.load(f)["project"]
    return data


def runtime_requirements() -> list[Requirement]:
    """pyproject's dependencies and its postgres extra: what the lock must hold."""
    project = pyproject()
    names = list(project["dependencies"])  # type: ignore[call-overload]
    names += project["optional-dependencies"]["postgres"]  # type: ignore[index]
    return [Requirement(r) for r in names]


def locked() -> dict[str, list[tuple[Version, str]]]:
    """Each locked package: its pinned versions (one per marker) and their hash lines."""
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    entries: dict[str, list[tuple[Version, str]]] = {}
    for block in re.split(r"\n(?=\S)", text.replace("\\\n", " ")):
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if match:
            name, version = canonicalize_name(match[1]), Version(match[2])
            entries.setdefault(name, []).append((version, block))
    return entries


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    said = capsys.readouterr().out.strip()
    assert said == f"plaudit {metadata.version('plaudit')}"
    assert said == f"plaudit {pyproject()['version']}"


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    lock = locked()
    missing = [str(r) for r in runtime_requirements() if canonicalize_name(r.name) not in lock]
    assert not missing, f"not in requirements.lock (run `make lock`): {missing}"
    for requirement in runtime_requirements():
        for version, block in lock[canonicalize_name(requirement.name)]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"requirements.lock pins {requirement.name}=={version}, outside "
                f"{requirement.specifier} (run `make lock`)"
            )
            assert "--hash=sha256:" in block, f"{requirement.name} is locked without a hash"


def test_sqlalchemys_asyncio_extra_is_asked_for_and_locked() -> None:
    # slack_sdk's SQLAlchemy installation store imports sqlalchemy.ext.asyncio, which
    # imports greenlet; SQLAlchemy 2.1 installs greenlet only with this extra.
    (sqlalchemy,) = [r for r in runtime_requirements() if r.name == "sqlalchemy"]
    assert "asyncio" in sqlalchemy.extras
    assert "greenlet" in locked()


def test_python_versions_offered_are_those_tested() -> None:
    project = pyproject()
    assert project["requires-python"] == ">=3.11"
    classifiers = project["classifiers"]
    for minor in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {minor}" in classifiers  # type: ignore[operator]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_image_is_built_by_the_script_ci_runs() -> None:
    instructions = dockerfile_instructions()
    runs = [args for op, args in instructions if op == "RUN"]
    builds = [args for args in runs if BUILD_SCRIPT in args]
    assert len(builds) == 1, runs
    # Nothing else in the Dockerfile installs Python packages: every step is the script's.
    assert not any(re.search(r"\bpip\b|\buv\b", args) for args in runs if args not in builds)
    script = (ROOT / BUILD_SCRIPT).read_text(encoding="utf-8")
    assert "--require-hashes" in script and "requirements.lock" in script
    smoke = (ROOT / "scripts" / "smoke_wheel.py").read_text(encoding="utf-8")
    assert '"container_build.sh"' in smoke
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/smoke_wheel.py" in ci or "make smoke" in ci


def test_the_image_runs_as_a_user_with_signals_and_a_health_check() -> None:
    instructions = dockerfile_instructions()
    final_stage = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    ops = dict(final_stage)
    assert ops["USER"] not in ("root", "0")
    assert "/healthz" in ops["HEALTHCHECK"]
    assert ops["STOPSIGNAL"] == "SIGTERM"
    assert "PYTHONUNBUFFERED=1" in shlex.split(ops["ENV"])
    assert json.loads(ops["ENTRYPOINT"]) == ["plaudit"]  # exec form: no shell eats SIGTERM
    assert json.loads(ops["CMD"]) == ["serve"]


def test_compose_runs_postgres_plaudit_and_the_demo() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    postgres, plaudit, demo = services["postgres"], services["plaudit"], services["demo"]
    assert postgres["healthcheck"]["test"] and postgres["volumes"]
    assert plaudit["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert plaudit["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "--no-migrate" in plaudit["command"] and services["migrate"]["command"][0] == "db"
    # Two replicas cannot publish one host port: a range gives each its own.
    (published,) = plaudit["ports"]
    assert re.search(r"\d+-\d+}?:3000$", published), published
    assert demo["profiles"] == ["demo"] and demo["command"][0] == "demo"
    # The demo listens on every address of its container, published on the host's loopback.
    from bot.cli.main import parser

    command = [re.sub(r"\$\{\w+:-(\w+)\}", r"\1", part) for part in demo["command"]]
    assert parser().parse_args(command).host == "0.0.0.0"
    assert all(p.startswith("127.0.0.1:") for p in demo["ports"]) and "network_mode" not in demo
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "compose.yaml").read_text())):
        assert name in example, f"{name} is used by compose.yaml but not in .env.example"

"""`plaudit demo --link`: a fresh one-time sign-in link for the running demo; a browser
without a session is told to run it (the demo has no single sign-on); the demo's pulse
survey shows on the configuration page and in `plaudit survey list`."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.cli import demo as demo_cli
from bot.cli.bootstrap import UsageError, load_settings
from bot.cli.main import main
from bot.demo import app as demo
from bot.runtime import Runtime
from tests.harness import run_uvicorn

LINK = re.compile(r"http://127\.0\.0\.1:(\d+)/dashboard(/demo-login\?token=\S+)")


def run(*argv: str) -> int:
    """`plaudit demo ...` as the command line parses it."""
    parser = argparse.ArgumentParser(prog="plaudit")
    demo_cli.add(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["demo", *argv])
    code: int = args.func(args)
    return code


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A seeded demo database (as `plaudit demo` leaves it), shared by the tests here."""
    path = tmp_path_factory.mktemp("demo") / "plaudit-demo.db"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PLAUDIT_DATABASE_URL", f"sqlite:///{path.parent / 'other.db'}")
        env.delenv("PLAUDIT_CONFIG", raising=False)
        runtime = demo_cli._runtime(load_settings(), path)
        demo.seed(runtime, now=runtime.clock.now())
        runtime.close()
    yield path


@pytest.fixture
def env(seeded: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(seeded.parent)
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", f"sqlite:///{seeded.parent / 'other.db'}")
    monkeypatch.delenv("PLAUDIT_CONFIG", raising=False)
    return seeded


@pytest.fixture
def served(env: Path) -> Iterator[tuple[str, Runtime]]:
    """The running demo, as `plaudit demo` serves it (its secret kept beside the database)."""
    runtime = demo_cli._runtime(load_settings(), env)
    app = demo.app(runtime, secret=demo_cli._secret(env))
    server, thread, base = run_uvicorn(app, lifespan="off")
    yield base, runtime
    server.should_exit = True
    thread.join(timeout=15)
    runtime.close()


def fresh_link(capsys: pytest.CaptureFixture[str], db: Path) -> str:
    assert run("--link", "--port", "8799", "--db", str(db)) == 0
    found = LINK.search(capsys.readouterr().out)
    assert found and found.group(1) == "8799"
    return "/dashboard" + found.group(2)


def test_link_signs_in_once_and_a_used_link_says_how_to_get_another(
    served: tuple[str, Runtime], env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = served
    link = fresh_link(capsys, env)
    with httpx.Client(base_url=base, timeout=10) as browser:
        signed_in = browser.get(link, follow_redirects=False)
        assert signed_in.status_code == 303
        assert browser.get("/dashboard/sandbox").status_code == 200
    with httpx.Client(base_url=base, timeout=10) as second_browser:
        used = second_browser.get(link)
        assert used.status_code == 403 and "plaudit demo --link" in used.text
        assert "single sign-on" not in used.text
        # A second link works in the second browser.
        assert (
            second_browser.get(fresh_link(capsys, env), follow_redirects=False).status_code == 303
        )


def test_a_browser_without_a_session_is_told_to_run_demo_link(
    served: tuple[str, Runtime],
) -> None:
    base, _ = served
    with httpx.Client(base_url=base, timeout=10) as browser:
        page = browser.get("/dashboard/feed", follow_redirects=True)
        assert str(page.url).startswith(f"{base}/dashboard/login?next=")
        assert page.status_code == 401
        assert "plaudit demo --link" in page.text and "single sign-on" not in page.text


def test_link_needs_the_demo_database(tmp_path: Path, env: Path) -> None:
    with pytest.raises(UsageError, match="start the demo with plaudit demo"):
        run("--link", "--db", str(tmp_path / "none.db"))


def test_the_pulse_survey_is_on_the_configuration_page_and_in_survey_list(
    served: tuple[str, Runtime],
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, _ = served
    link = fresh_link(capsys, env)
    with httpx.Client(base_url=base, timeout=10) as browser:
        browser.get(link, follow_redirects=True)
        page = browser.get("/dashboard/configuration").text
    assert "Monthly pulse (pulse)" in page and "none configured" not in page
    assert "on demand" in page and "4 questions" in page
    # The README's way to point the other commands at the demo's data.
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", f"sqlite:///{env}")
    capsys.readouterr()
    assert main(["survey", "list"]) == 0
    listed = capsys.readouterr().out
    assert "pulse: Monthly pulse" in listed and "No surveys are defined" not in listed
    assert re.search(r"round \d+ open until", listed)

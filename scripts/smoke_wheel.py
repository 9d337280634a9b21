"""Smoke test of what ships: the wheel in a clean virtualenv and the container's install steps.

Builds the wheel, installs it with no extras into a new virtualenv in a temporary folder
(resolving its dependencies from the index, as an operator's `pip install` does), and
separately runs `scripts/container_build.sh` (the locked install the Dockerfile runs). Each
install then runs `plaudit serve` from outside the source tree with Slack and Teams on,
against the test suite's fake Slack Web API and fake Bot Connector, until `/readyz` says
ready, and stops it with SIGTERM. Reports install size and time, cold start to ready and
resident memory at rest.

Run with the development environment, which has the fakes' dependencies:
    .venv/bin/python scripts/smoke_wheel.py [--python PY] [--container-python PY]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.bot_connector import (  # noqa: E402
    BOT_APP_ID,
    BOT_APP_PASSWORD,
    TENANT_ID,
    FakeConnector,
)
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.harness import AUDIT_KEY, PV_KEY, SECRET, TOKEN  # noqa: E402

CONFIG = """\
compliance:
  safety_channel: C0SAFETY
teams:
  safety_channel: "19:safety0001@thread.tacv2"
"""
READY_WITHIN = 180.0  # seconds; a cold start compiles every rule pack
REST = 5.0  # seconds idle after ready before resident memory is read


@dataclass
class Fakes:
    slack: FakeSlack
    teams: FakeConnector


@dataclass
class Served:
    ready_seconds: float
    rss_mib: float
    stop_seconds: float


def main(argv: list[str] | None = None) -> int:
    args = options().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="plaudit-smoke-") as tmp:
        work = Path(tmp)
        with FakeSlack(token=TOKEN) as slack, FakeConnector(auth=True) as teams:
            fakes = Fakes(slack, teams)
            wheel_venv = work / "wheel-venv"
            wheel = build_wheel(args.python, work / "dist")
            seconds = timed(install_wheel, args.python, wheel, wheel_venv)
            report("wheel", wheel.name, wheel_venv, seconds, serve(wheel_venv, work, fakes))
            if not args.skip_container:
                locked = work / "container-venv"
                python = args.container_python or args.python
                seconds = timed(container_build, python, locked)
                served = serve(locked, work, fakes)
                report("container", "requirements.lock", locked, seconds, served)
    return 0


def options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", default=sys.executable, help="interpreter for the wheel's venv")
    p.add_argument("--container-python", help="interpreter for the container's steps")
    p.add_argument("--skip-container", action="store_true", help="only the wheel")
    return p


def timed(step: Callable[..., object], *args: object) -> float:
    start = time.monotonic()
    step(*args)
    return time.monotonic() - start


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Plaudit's settings, the source tree or the current venv."""
    dropped = ("SLACK_", "MICROSOFT_", "PLAUDIT_", "BIGCOMMERCE_", "VIRTUAL_ENV", "PYTHON")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return env | extra


def run(command: list[str], *, cwd: Path, **env: str) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=clean_env(**env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"smoke: {' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def build_wheel(python: str, out: Path) -> Path:
    script = str(ROOT / "scripts" / "build_wheel.sh")
    run(["sh", script, str(ROOT), str(out)], cwd=out.parent, PYTHON=python)
    (wheel,) = out.glob("plaudit-*.whl")
    return wheel


def install_wheel(python: str, wheel: Path, venv: Path) -> None:
    """The operator's install: the wheel alone, no extras, dependencies from the index."""
    run([python, "-m", "venv", str(venv)], cwd=venv.parent)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "--quiet", str(wheel)], cwd=venv.parent)


def container_build(python: str, venv: Path) -> None:
    script = str(ROOT / "scripts" / "container_build.sh")
    print(run(["sh", script, str(ROOT), str(venv)], cwd=venv.parent, PYTHON=python), end="")


def size_mib(folder: Path) -> float:
    total = sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() or p.is_symlink())
    return total / 2**20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings(workdir: Path, port: int, fakes: Fakes) -> dict[str, str]:
    """Slack (one workspace) and Teams (single tenant, authenticated) against the fakes."""
    return {
        "PLAUDIT_DATABASE_URL": f"sqlite:///{workdir / 'plaudit.db'}",
        "PLAUDIT_CONFIG": str(workdir / "plaudit.yaml"),
        "PLAUDIT_HOST": "127.0.0.1",
        "PLAUDIT_PORT": str(port),
        "PLAUDIT_PV_KEY": PV_KEY,
        "PLAUDIT_AUDIT_KEY": AUDIT_KEY,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fakes.slack.base_url,
        "MICROSOFT_APP_ID": BOT_APP_ID,
        "MICROSOFT_APP_PASSWORD": BOT_APP_PASSWORD,
        "MICROSOFT_APP_TENANT_ID": TENANT_ID,
        "MICROSOFT_APP_TYPE": "SingleTenant",
        "MICROSOFT_OPENID_METADATA_URL": fakes.teams.openid_metadata_url,
        "MICROSOFT_LOGIN_URL": fakes.teams.login_url(TENANT_ID),
    }


def serve(venv: Path, work: Path, fakes: Fakes) -> Served:
    """`plaudit serve` from `venv`, run in a folder of its own, until ready; then SIGTERM."""
    workdir = work / f"run-{venv.name}"
    workdir.mkdir()
    (workdir / "plaudit.yaml").write_text(CONFIG, encoding="utf-8")
    port = free_port()
    log_path = workdir / "serve.log"
    with log_path.open("w") as log:
        start = time.monotonic()
        proc = subprocess.Popen(
            [str(venv / "bin" / "plaudit"), "serve"],
            cwd=workdir,
            env=clean_env(**settings(workdir, port, fakes)),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            ready = wait_ready(proc, port, start, log_path)
            time.sleep(REST)
            rss = rss_mib(proc.pid)
            stopped = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    output = log_path.read_text(encoding="utf-8", errors="replace")
    # uvicorn shuts the app down, then re-raises SIGTERM so the process ends as signalled
    # (status -15 here, 143 in a shell); as a container's PID 1 the re-raised signal is
    # ignored and the status is 0. Either way the app's shutdown must have completed.
    clean = code in (0, -signal.SIGTERM) and "Application shutdown complete" in output
    if not clean or "Traceback" in output:
        sys.exit(f"smoke: plaudit serve stopped with {code} on SIGTERM:\n{output[-4000:]}")
    return Served(ready, rss, time.monotonic() - stopped)


def wait_ready(proc: subprocess.Popen[bytes], port: int, start: float, log: Path) -> float:
    url = f"http://127.0.0.1:{port}/readyz"
    answer: object = None
    while time.monotonic() - start < READY_WITHIN:
        if proc.poll() is not None:
            sys.exit(f"smoke: plaudit serve exited with {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                answer = json.loads(response.read())
                if isinstance(answer, dict) and answer.get("status") == "ready":
                    return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            answer = getattr(exc, "reason", exc)
        time.sleep(0.1)
    sys.exit(f"smoke: /readyz not ready in {READY_WITHIN:.0f} s (last: {answer}):\n{tail(log)}")


def tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-4000:]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def report(kind: str, source: str, venv: Path, seconds: float, served: Served) -> None:
    version = run([str(venv / "bin" / "plaudit"), "--version"], cwd=venv.parent).strip()
    print(
        f"smoke {kind}: {version} from {source}: install {seconds:.1f} s, "
        f"{size_mib(venv):.0f} MiB in the venv; serve (Slack and Teams on) ready in "
        f"{served.ready_seconds:.1f} s, {served.rss_mib:.0f} MiB RSS at rest, "
        f"stopped by SIGTERM in {served.stop_seconds:.1f} s",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: a survey fanned out to many members through a rate-limited fake Slack.

The fake Slack Web API on loopback enforces a workspace limit (default 50 chat.postMessage
calls a second, 429 with Retry-After beyond it). A survey round is opened for every member;
the outbox dispatcher runs in a child process that is killed (SIGKILL) half-way and
started again. Reported: messages a second achieved as a share of the enforced limit,
duplicates and losses.

    python bench/fanout.py [--members 10000] [--limit 50] [--ceiling 50] [--no-kill]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from bench.common import emit, exit_on_sigterm  # noqa: E402
from handlers import surveys  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.models import Member, Outbox  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

TOKEN = "xoxb-bench-token"
TARGET_SHARE = 0.9
SURVEY = surveys.Survey(
    id="pulse",
    title="Weekly pulse",
    questions=(
        surveys.Question("energy", "scale", "How energised do you feel?", ("Drained", "Great")),
        surveys.Question("enps", "enps", "Would you recommend working here?"),
    ),
    schedule=surveys.Schedule(cron="0 10 * * mon", timezone="Europe/Berlin"),
    open_for=timedelta(days=3),
    results_channel="C0RESULTS",
)


def prepare(url: str, members: int) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.connection().execute(
            insert(Member.__table__),  # type: ignore[attr-defined]
            [
                {
                    "slack_team_id": "T0001",
                    "slack_user_id": f"U{i:06d}",
                    "email": f"user{i}@example.com",
                    "display_name": f"User {i}",
                    "timezone": "UTC",
                    "is_bot": False,
                    "active": True,
                    "roles": [],
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(members)
            ],
        )
        opened = surveys.open_round(SURVEY, session=session, now=now, period="bench")
        session.commit()
    assert isinstance(opened, surveys.Opened), opened
    print(f"round opened: {opened.invited} invitations queued")
    engine.dispose()


async def work(url: str, slack_url: str, ceiling: float, lease: float) -> None:
    """The child: deliver until nothing is pending."""
    import aiohttp

    from bot.http.app import slack_client
    from bot.jobs.outbox import Dispatcher
    from bot.runtime import Runtime
    from bot.settings import Settings
    from bot.slack.send import SlackSender
    from compliance_rules import default_rules
    from handlers.policy import KudosPolicy

    settings = Settings.model_validate(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": "bench-secret",
            "SLACK_API_URL": slack_url,
        }
    )
    client = slack_client(settings)
    client.session = aiohttp.ClientSession()
    runtime = Runtime(engine=make_engine(url), policy=KudosPolicy(), rules=default_rules())
    dispatcher = Dispatcher(
        runtime,
        {"slack": SlackSender(client)},
        workspace_rate=ceiling,
        lease=timedelta(seconds=lease),
        idle_poll=0.5,
    )
    dispatcher.start()
    try:
        while await runtime.run(_pending) > 0:
            await asyncio.sleep(0.5)
    finally:
        await dispatcher.stop()
        await client.session.close()
        runtime.close()


def _pending(session: Session) -> int:
    stmt = select(func.count(col(Outbox.id))).where(Outbox.status == "pending")
    return int(session.exec(stmt).one())


def spawn(url: str, slack_url: str, args: argparse.Namespace, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        url,
        slack_url,
        "--ceiling",
        str(args.ceiling),
        "--lease",
        str(args.lease),
    ]
    return subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--limit", type=float, default=50.0, help="the fake's messages a second")
    parser.add_argument("--ceiling", type=float, default=50.0, help="PLAUDIT_SLACK_RATE")
    parser.add_argument("--lease", type=float, default=10.0, help="outbox lease seconds")
    parser.add_argument("--no-kill", action="store_true", help="do not kill the dispatcher")
    parser.add_argument("--database", help="a database URL (default: a new SQLite file)")
    parser.add_argument("--worker", nargs=2, metavar=("DB", "SLACK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(work(args.worker[0], args.worker[1], args.ceiling, args.lease))
        return 0

    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="plaudit-fanout-"))
    url = args.database or f"sqlite:///{workdir / 'plaudit.db'}"
    prepare(url, args.members)
    fake = FakeSlack(token=TOKEN, team_id="T0001")
    fake.rate_limit = args.limit
    log = workdir / "dispatcher.log"
    with fake:
        started = time.monotonic()
        child = spawn(url, fake.base_url, args, log)
        try:
            killed_at = None
            if not args.no_kill:
                while _sent(fake) < args.members // 2:
                    if child.poll() is not None:
                        raise SystemExit(f"dispatcher exited early; see {log}")
                    time.sleep(0.2)
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
                killed_at = time.monotonic()
                print(f"killed the dispatcher after {_sent(fake)} messages; starting it again")
                child = spawn(url, fake.base_url, args, log)
            if child.wait() != 0:
                raise SystemExit(f"dispatcher failed; see {log}")
        finally:
            if child.poll() is None:  # interrupted: take the dispatcher along
                child.kill()
                child.wait()
        finished = time.monotonic()
        report(fake, args, started, finished, killed_at, url)
    return 0


def _sent(fake: FakeSlack) -> int:
    return fake.count("chat.postMessage")  # attempts, 429s included


def report(
    fake: FakeSlack,
    args: argparse.Namespace,
    started: float,
    finished: float,
    killed_at: float | None,
    url: str,
) -> None:
    users = [f"U{i:06d}" for i in range(args.members)]
    copies = [len(fake.messages(u)) for u in users]
    duplicates = sum(c - 1 for c in copies if c > 1)
    losses = sum(1 for c in copies if c == 0)
    calls = fake.calls("chat.postMessage")
    refused = len(calls) - sum(copies)
    times = sorted(c.at for c in calls)
    engine = make_engine(url)
    with Session(engine) as session:
        statuses = dict(
            session.exec(select(Outbox.status, func.count()).group_by(Outbox.status)).all()
        )
    engine.dispose()
    elapsed = times[-1] - times[0]
    gap = 0.0
    if killed_at is not None:
        after = [t for t in times if t > killed_at]
        before = [t for t in times if t <= killed_at]
        gap = (after[0] - before[-1]) if after and before else 0.0
    delivered = sum(1 for c in copies if c)
    rate_all = delivered / elapsed
    rate_running = delivered / (elapsed - gap) if elapsed > gap else rate_all
    print(f"members                      {args.members}")
    print(f"enforced limit               {args.limit:.0f} msg/s (429 + Retry-After beyond it)")
    print(f"dispatcher ceiling           {args.ceiling:.0f} msg/s")
    wall = finished - started
    print(f"delivered                    {delivered} in {elapsed:.1f} s ({wall:.1f} s wall)")
    share = rate_running / args.limit
    print(f"rate while running           {rate_running:.1f} msg/s = {share:.3f} of the limit")
    if killed_at is not None:
        print(f"restart gap (lease {args.lease:.0f} s)     {gap:.1f} s")
        share = rate_all / args.limit
        print(f"rate including the restart   {rate_all:.1f} msg/s = {share:.3f} of the limit")
    busiest, left = 0, 0
    for right, t in enumerate(times):
        while times[left] <= t - 1.0:
            left += 1
        busiest = max(busiest, right - left + 1)
    print(f"busiest second at the fake   {busiest} calls")
    print(f"429 answers                  {refused}")
    print(f"duplicates                   {duplicates}")
    print(f"losses                       {losses}")
    print(f"outbox rows by status        {statuses}")
    print(f"look-ups after the restart   {len(fake.calls('conversations.history'))}")
    emit(
        "fan-out msg/s while running (peer: the limit)",
        rate_running,
        args.limit,
        f">= {TARGET_SHARE}x",
        rate_running >= TARGET_SHARE * args.limit,
    )
    emit("fan-out duplicates", duplicates, None, "0", duplicates == 0)
    emit("fan-out losses", losses, None, "0", losses == 0)


if __name__ == "__main__":
    sys.exit(main())

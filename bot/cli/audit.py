"""`plaudit audit`: prove the audit trail (verify), seal and publish a checkpoint now
(checkpoint), make a key (keygen)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from bot.audit.checkpoints import Publisher, read
from bot.cli.bootstrap import UsageError, load_settings, sealing_key
from handlers.counts import count
from storage import audit
from storage.audit_verify import GRACE, Verdict, verify
from storage.db import make_engine

TAMPERED = 1
STALE = 3  # intact, but entries have waited too long to be sealed: is a sealer running?


def cmd_audit(args: argparse.Namespace) -> int:
    if args.action == "keygen":
        print(audit.new_key())
        return 0
    settings = load_settings()
    key = sealing_key(settings, serving=False)
    if key is None:
        raise UsageError(
            "set PLAUDIT_AUDIT_KEY (or PLAUDIT_AUDIT_KEY_FILE), the key the trail is sealed "
            "with, and run this again"
        )
    engine = make_engine(settings.database_url)
    try:
        if args.action == "checkpoint":
            return _checkpoint(engine, key, settings.audit_checkpoints, settings.audit_webhook)
        published = _published(settings.audit_checkpoints, args.checkpoint or [])
        with Session(engine) as session:
            verdict = verify(session, key, published=published, now=datetime.now(UTC))
    finally:
        engine.dispose()
    return _report(verdict, len(published))


def _published(directory: Path | None, files: list[str]) -> list[audit.Checkpoint]:
    paths = ([directory] if directory is not None and directory.exists() else []) + [
        Path(f) for f in files
    ]
    found: list[audit.Checkpoint] = []
    for path in paths:
        try:
            found.extend(read(path))
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    return found


def _checkpoint(
    engine: object, key: audit.AuditKey, directory: Path | None, url: str | None
) -> int:

    assert isinstance(engine, Engine)
    done = audit.seal_all(engine, key, now=datetime.now(UTC))
    checkpoint = done.checkpoint
    if checkpoint is None:
        with Session(engine) as session:
            checkpoint = audit.latest_checkpoint(session)
    if checkpoint is None:
        print("nothing to seal: the audit trail is empty")
        return 0
    publisher = Publisher(directory, url)
    try:
        publisher.publish(checkpoint, now=True)
    finally:
        publisher.close()
    print(json.dumps(checkpoint.as_json(), sort_keys=True))
    return 0


def _report(verdict: Verdict, published: int) -> int:
    if not verdict.intact:
        print("audit trail NOT intact:")
        for problem in verdict.problems:
            print(f"  - {problem}")
        return TAMPERED
    proof = verdict.proved_against
    against = (
        f"; its head matches the checkpoint of {proof.at.isoformat()} "
        f"({count(proof.size, 'entry', 'entries')})"
        if proof is not None
        else ""
    )
    print(
        f"audit trail intact: {count(verdict.sealed, 'sealed entry', 'sealed entries')} "
        f"proved against the key{against}; "
        f"{count(verdict.checkpoints, 'checkpoint')} compared "
        f"({published} published outside the database)"
    )
    if verdict.legacy:
        older = count(verdict.legacy, "entry", "entries")
        print(f"  {older} from before sealing also match their unkeyed hashes")
    if verdict.unsealed:
        print(f"  {count(verdict.unsealed, 'entry', 'entries')} not sealed yet")
    if verdict.stale:
        print(
            f"  {count(verdict.stale, 'entry', 'entries')} waited more than "
            f"{int(GRACE.total_seconds())} s to be sealed: is plaudit serve running with "
            "PLAUDIT_AUDIT_KEY set?"
        )
        return STALE
    return 0


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="the audit trail: verify, checkpoint, keygen")
    p.add_argument(
        "action",
        nargs="?",
        default="verify",
        choices=["verify", "checkpoint", "keygen"],
        help="verify (default): prove every sealed entry against the key and the "
        "checkpoints; checkpoint: seal what waits and publish a signed checkpoint now; "
        "keygen: print a new PLAUDIT_AUDIT_KEY",
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        metavar="FILE",
        help="a checkpoint kept outside the database (a checkpoint.json, checkpoints.jsonl, "
        "a log file or a directory); repeatable; PLAUDIT_AUDIT_CHECKPOINTS is always read",
    )
    p.set_defaults(func=cmd_audit)

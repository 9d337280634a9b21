"""`plaudit roster`, `import` and `privacy`: the people list, past recognitions, personal data."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import datetime
from functools import partial
from pathlib import Path

from sqlmodel import Session

from bot.cli.bootstrap import UsageError, build_runtime, load_settings
from bot.runtime import Runtime
from bot.settings import Settings
from handlers import baseline, history, members, privacy, retention, roster
from handlers.counts import count


def _unlink(settings: Settings, email: str, platform: str | None) -> int:
    """Undo a link: the member keeps their email and records, the identity goes."""
    if platform is None:
        raise UsageError("roster unlink needs --platform slack or --platform teams")
    runtime = build_runtime(settings)
    try:
        done = runtime.run_sync(
            lambda s: members.unlink(
                email, platform, session=s, now=runtime.clock.now(), actor="cli"
            )
        )
    finally:
        runtime.close()
    if isinstance(done, str):
        print(done)
        return 1
    print(
        f"{email.strip().lower()} is no longer linked to {platform.title()} user "
        f"{done.user_id}; that identity is now member #{done.detached_id}, without an email."
    )
    return 0


def cmd_roster(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.action == "unlink":
        return _unlink(settings, args.target, args.platform)
    if args.action == "import":
        rows = [roster.Row(n, v) for n, v in _read_csv(Path(args.target), roster.COLUMNS)]
    runtime = build_runtime(settings)
    try:
        if args.action == "deactivate":
            found = runtime.run_sync(
                lambda s: roster.deactivate(args.target, session=s, now=runtime.clock.now())
            )
            print(
                f"{args.target} deactivated." if found else f"No member with email {args.target}."
            )
            return 0 if found else 1

        def work(session: Session) -> tuple[roster.Report, list[str]]:
            now = runtime.clock.now()
            report = roster.import_rows(rows, session=session, now=now)
            gone: list[str] = []
            if args.deactivate_missing:
                present = {(r.values.get("email") or "").strip().lower() for r in rows}
                gone = roster.deactivate_missing(present, session=session, now=now)
            return report, gone

        report, gone = runtime.run_sync(work)
    finally:
        runtime.close()
    for line in report.lines():
        print(line)
    for email in gone:
        print(f"deactivated {email} (not in the file)")
    return 0 if not report.rejected else 1


def cmd_import(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.what == "baseline":
        return _import_baseline(settings, Path(args.file))
    mapping = _column_map(args.map)
    table = _read_csv(Path(args.file), history.COLUMNS, mapping, required=history.COLUMNS[:4])
    rows = [history.Row(line, values) for line, values in table]
    runtime = build_runtime(settings)
    try:
        report = runtime.run_sync(
            lambda s: history.import_rows(
                rows, session=s, rules=runtime.rules, policy=runtime.policy, now=runtime.clock.now()
            )
        )
    finally:
        runtime.close()
    for line in report.lines():
        print(line)
    return 0 if not report.rejected else 1


def _import_baseline(settings: Settings, path: Path) -> int:
    """Earlier eNPS, engagement or participation per team and period, checked whole first."""
    table = _read_csv(path, baseline.COLUMNS, required=baseline.COLUMNS)
    runtime = build_runtime(settings)
    try:
        now = runtime.clock.now()
        try:
            figures = baseline.read_all(table, now.date())
        except baseline.BaselineError as exc:
            raise UsageError(f"{path}: {exc} (nothing was imported)") from exc
        added, replaced = runtime.run_sync(lambda s: baseline.store(figures, session=s, now=now))
    finally:
        runtime.close()
    print(f"{added} baseline figure(s) added, {replaced} replaced.")
    return 0


def _column_map(pairs: list[str] | None) -> dict[str, str]:
    """`--map giver_email=From` → {"from": "giver_email"} (file header → our column)."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        ours, _, theirs = pair.partition("=")
        if ours.strip() not in history.COLUMNS or not theirs.strip():
            raise UsageError(f"--map {pair!r}: use OUR_COLUMN=THEIR_HEADER, e.g. giver_email=From")
        mapping[theirs.strip().lower()] = ours.strip()
    return mapping


def _read_csv(
    path: Path,
    columns: tuple[str, ...],
    mapping: dict[str, str] | None = None,
    *,
    required: tuple[str, ...] = ("email",),
) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV export with their line numbers; headers matched case-blind."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (save the spreadsheet as CSV UTF-8)") from exc
    reader = csv.DictReader(io.StringIO(text))
    names = [h.strip().lower() for h in reader.fieldnames or []]
    headers = [(mapping or {}).get(h, h) for h in names]
    missing = [c for c in required if c not in headers]
    if missing:
        raise UsageError(
            f"{path}: the first line must name the columns, including {', '.join(missing)}"
        )
    unknown = sorted(set(headers) - set(columns))
    if unknown:
        raise UsageError(f"{path}: unknown column(s) {', '.join(unknown)}")
    reader.fieldnames = headers
    return [(reader.line_num, dict(r)) for r in reader]


def _purge(settings: Settings) -> int:
    runtime = build_runtime(settings)
    try:
        policy = runtime.retention
        if not policy.on and policy.outbox_days is None:
            print("No retention is set (retention: in plaudit.yaml): everything is kept.")
            return 0
        now = runtime.clock.now()
        done = runtime.run_sync(lambda s: retention.purge(s, retention=policy, now=now))
        rows = _purge_outbox(runtime, now)
    finally:
        runtime.close()
    print(
        f"erased {count(done.texts, 'stopped text')}; unlinked {count(done.pv_links, 'PV case')}; "
        f"erased the texts of {count(done.pv_texts, 'PV case')}; "
        f"deleted {count(rows, 'finished outbox row')}"
    )
    return 0


def _purge_outbox(runtime: Runtime, now: datetime) -> int:
    """The outbox's purge, a batch per transaction (see `retention.purge_outbox`)."""
    deleted, after = 0, 0
    while True:
        batch = runtime.run_sync(
            partial(retention.purge_outbox, retention=runtime.retention, now=now, after=after)
        )
        deleted += batch.deleted
        if batch.resume_after is None:
            return deleted
        after = batch.resume_after


def cmd_privacy(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.action == "purge":
        return _purge(settings)
    if not args.member:
        raise UsageError(f"privacy {args.action} needs --member EMAIL")
    if args.action == "erase" and not args.confirm:
        raise UsageError("erasing cannot be undone; add --confirm to go ahead")
    runtime = build_runtime(settings)
    try:
        if args.action == "export":
            data = runtime.run_sync(
                lambda s: privacy.export(args.member, session=s, now=runtime.clock.now())
            )
        else:
            data = runtime.run_sync(
                lambda s: privacy.erase(args.member, session=s, now=runtime.clock.now())
            )
    finally:
        runtime.close()
    if data is None:
        print(f"No member {args.member}.")
        return 1
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if args.action == "export" and args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The roster, import and privacy commands."""
    ros = sub.add_parser(
        "roster", help="import the people list, deactivate leavers, undo a chat identity link"
    )
    ros.add_argument("action", choices=["import", "deactivate", "unlink"])
    ros.add_argument(
        "target", help="CSV file to import, or the member's email to deactivate or unlink"
    )
    ros.add_argument(
        "--deactivate-missing",
        action="store_true",
        help="with import: deactivate members whose email is not in the file",
    )
    ros.add_argument(
        "--platform",
        choices=["slack", "teams"],
        help="with unlink: which chat identity to take off the member",
    )
    ros.set_defaults(func=cmd_roster)

    imp = sub.add_parser(
        "import", help="bring over past recognitions, or earlier survey figures (baseline)"
    )
    imp.add_argument("what", choices=["recognitions", "baseline"])
    imp.add_argument(
        "file",
        help="CSV. recognitions: date, giver_email, recipient_email, message, value; "
        "baseline: metric (enps, engagement, participation), team, start, end, value, people",
    )
    imp.add_argument(
        "--map",
        action="append",
        metavar="OURS=THEIRS",
        help="read a column under another header, e.g. --map giver_email=From (repeatable)",
    )
    imp.set_defaults(func=cmd_import)

    priv = sub.add_parser(
        "privacy",
        help="a person's data: export or erase; purge what the retention policy says is due",
    )
    priv.add_argument("action", choices=["export", "erase", "purge"])
    priv.add_argument("--member", metavar="EMAIL", help="with export and erase: whose data")
    priv.add_argument("--out", metavar="FILE", help="with export: write the JSON here")
    priv.add_argument("--confirm", action="store_true", help="with erase: yes, really")
    priv.set_defaults(func=cmd_privacy)

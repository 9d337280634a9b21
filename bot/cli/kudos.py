"""`plaudit kudos`, `check` and `review`: give kudos, test a text, decide on held kudos."""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from pathlib import Path

from sqlmodel import Session

import compliance_rules
from bot import config as org_config
from bot.chat import handles
from bot.cli.bootstrap import UsageError, build_runtime, load_settings
from compliance_rules.evaluate import evaluate, read_corpus
from handlers import kudos, retraction, review
from handlers.events import KudosRequested, Person
from storage import directory

_VALUE = re.compile(r"(?<![\w#&/])#[a-z0-9][a-z0-9_-]*", re.IGNORECASE)


def cmd_kudos(args: argparse.Namespace) -> int:
    settings = load_settings()
    runtime = build_runtime(settings)
    text: str = args.text

    def work(session: Session) -> kudos.KudosResult:
        members = directory.active_with_email(session=session)
        giver = next(
            (m for m in members if (m.email or "").lower() == args.as_email.strip().lower()), None
        )
        if giver is None:
            raise UsageError(f"no member with email {args.as_email}; import or create them first")
        recipients, message = handles.parse(text, members)
        values = tuple(dict.fromkeys(v.lower() for v in _VALUE.findall(message)))
        event = KudosRequested(
            key=f"cli:{uuid.uuid4()}",
            giver=handles.person(giver),
            recipients=tuple(recipients),
            message=message,
            values=values,
            source="cli",
        )
        return kudos.give(
            event, session=session, policy=runtime.policy, clock=runtime.clock, rules=runtime.rules
        )

    try:
        result = runtime.run_sync(work)
    finally:
        runtime.close()
    if isinstance(result, kudos.Recorded):
        print(
            f"Recorded kudos #{result.recognition_id} for {', '.join(result.recipients)}; "
            f"{result.allowance_left} left today."
        )
        for warning in result.warnings:
            print(f"warning: {warning.message}")
        return 0
    if isinstance(result, kudos.Stopped):
        print(result.message)
        return 1
    if isinstance(result, kudos.Refused):
        print(result.message)
        return 1
    print("Already recorded.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        org = org_config.load(settings.config_path)
        rules = org.compliance.rules(settings.config_path.resolve().parent)
    except (org_config.ConfigError, compliance_rules.RuleError) as exc:
        raise UsageError(str(exc)) from exc
    if args.eval:
        return _evaluate(Path(args.eval), rules, verbose=args.verbose)
    if args.text is None:
        raise UsageError("give a text to check, - to read it from standard input, or --eval FILE")
    text = sys.stdin.read() if args.text == "-" else args.text
    result = compliance_rules.check(text, rules)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(f"outcome: {result.outcome.value}")
        for f in result.findings:
            print(f"- {f.rule} [{f.category}] {f.start}-{f.end} {f.match!r}: {f.message}")
            if f.suggestion:
                print(f"  suggestion: {f.suggestion}")
            if f.cites:
                print(f"  cites: {f.cites}")
    ok = result.outcome in (compliance_rules.Outcome.PASS, compliance_rules.Outcome.WARN)
    return 0 if ok else 1


def _evaluate(path: Path, rules: compliance_rules.RuleSet, *, verbose: bool) -> int:
    try:
        report = evaluate(read_corpus(path), rules)
    except (OSError, compliance_rules.RuleError) as exc:
        raise UsageError(str(exc)) from exc
    for line in report.lines():
        print(line)
    if verbose:
        for text, expected, got in report.mistakes:
            print(f"expected {list(expected) or ['none']} got {list(got) or ['none']}: {text}")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    settings = load_settings()
    runtime = build_runtime(settings)
    try:
        if args.action == "list":
            rows = runtime.run_sync(
                lambda s: [
                    (r.id, g.id, r.requested_by, g.text, [f["rule"] for f in g.findings])
                    for r, g in review.pending(s)
                ]
            )
            if not rows:
                print("No kudos are waiting for review.")
            for review_id, recognition_id, by, text, rules_hit in rows:
                print(f"#{review_id} kudos {recognition_id} ({by}; {', '.join(rules_hit)}): {text}")
            return 0
        if args.id is None or not args.as_email:
            raise UsageError(f"review {args.action} needs an ID and --as EMAIL")
        if args.action == "reject" and not (args.reason or "").strip():
            raise UsageError("review reject needs --reason")
        reviewer = Person("email", None, args.as_email.lower(), args.as_email, email=args.as_email)
        result = runtime.run_sync(
            lambda s: review.decide(
                args.id,
                reviewer,
                approve=args.action == "approve",
                reason=args.reason,
                session=s,
                policy=runtime.policy,
                now=runtime.clock.now(),
            )
        )
    finally:
        runtime.close()
    if isinstance(result, review.NotAllowed):
        print(result.message)
        return 1
    print(f"Review #{result.review_id} {result.status}.")
    return 0


def cmd_retract(args: argparse.Namespace) -> int:
    settings = load_settings()
    runtime = build_runtime(settings)
    who = Person.by_email(args.as_email.lower(), args.as_email)
    try:
        result = runtime.run_sync(
            lambda s: retraction.retract(
                args.id,
                who,
                session=s,
                policy=runtime.policy,
                clock=runtime.clock,
                reason=args.reason,
            )
        )
    finally:
        runtime.close()
    if isinstance(result, retraction.NotRetracted):
        print(result.message)
        return 1
    print(
        f"Kudos #{result.recognition_id} taken back: its points are returned and "
        f"{result.messages} delivered message(s) will be deleted."
    )
    return 0


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The kudos, retract, check and review commands."""
    give = sub.add_parser("kudos", help="give kudos from the terminal")
    give.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    give.add_argument(
        "text",
        help='e.g. "@Dana Smith thanks for the launch checklist #collaboration" (recipients by '
        "display name, email, or an email's local part)",
    )
    give.set_defaults(func=cmd_kudos)

    back = sub.add_parser(
        "retract", help="take a published kudos back (its giver for a while, an admin always)"
    )
    back.add_argument("id", type=int, help="the kudos number")
    back.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    back.add_argument("--reason", help="why (kept in the audit trail)")
    back.set_defaults(func=cmd_retract)

    check = sub.add_parser("check", help="run a text through the compliance rules")
    check.add_argument("text", nargs="?", help="the text, or - to read standard input")
    check.add_argument("--json", action="store_true")
    check.add_argument("--eval", metavar="FILE.jsonl", help="score the rules on a labelled corpus")
    check.add_argument("--verbose", action="store_true", help="with --eval: list every mistake")
    check.set_defaults(func=cmd_check)

    rev = sub.add_parser("review", help="the compliance review queue")
    rev.add_argument("action", choices=["list", "approve", "reject"])
    rev.add_argument("id", nargs="?", type=int)
    rev.add_argument("--as", dest="as_email", metavar="EMAIL", help="the reviewer deciding")
    rev.add_argument("--reason", help="why it is rejected (shown to the giver)")
    rev.set_defaults(func=cmd_review)

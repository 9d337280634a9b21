"""`plaudit pv`: the key that seals PV case texts (make one, re-seal with a new one)."""

from __future__ import annotations

import argparse

from bot.cli.bootstrap import UsageError, load_settings, pv_vault
from handlers.counts import count
from storage import pv_cases
from storage.db import make_engine, transaction
from storage.vault import VaultError, new_key


def cmd_keygen(args: argparse.Namespace) -> int:
    print(new_key())
    return 0


def cmd_rekey(args: argparse.Namespace) -> int:
    """Seal every case text with the first configured key; afterwards the others can go."""
    settings = load_settings()
    vault = pv_vault(settings, serving=False)
    if vault is None:
        raise UsageError("set PLAUDIT_PV_KEY (new key first, then the old ones) and run again")
    engine = make_engine(settings.database_url)
    try:
        with transaction(engine) as session:
            done = pv_cases.seal_plain(session, vault, rekey=True)
    except VaultError as exc:
        raise UsageError(f"{exc}: keep every key in PLAUDIT_PV_KEY until rekey succeeds") from exc
    finally:
        engine.dispose()
    print(
        f"sealed {count(done.cases, 'PV case text')} with key {vault.key_id}; "
        f"removed the text from {count(done.notices, 'notification')}"
    )
    return 0


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pv = sub.add_parser("pv", help="the key PV case texts are sealed with")
    actions = pv.add_subparsers(dest="action", required=True)
    actions.add_parser("keygen", help="print a new key for PLAUDIT_PV_KEY").set_defaults(
        func=cmd_keygen
    )
    actions.add_parser(
        "rekey", help="seal every case text with the first key of PLAUDIT_PV_KEY"
    ).set_defaults(func=cmd_rekey)

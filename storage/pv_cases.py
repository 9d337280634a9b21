"""PV cases' texts at rest: sealed with the safety key, opened only for the safety team.

A case keeps the original text sealed (`storage.vault`); its notifications in the outbox
carry no text, only the case id, and the dispatcher opens the case's text when it sends.
A case opened while no key was configured keeps its text redacted, unsealed, and is sealed
as soon as a key is (`seal_plain`, at start-up and by `plaudit pv rekey`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlmodel import Session

from storage import maintenance
from storage.models import Outbox, PvCase
from storage.vault import Vault, VaultError, context, is_sealed

ERASED = "[erased under the retention policy]"
UNREADABLE = "[sealed with a key that is not configured]"
_pv = PvCase.__table__  # type: ignore[attr-defined]
_outbox = Outbox.__table__  # type: ignore[attr-defined]


def keep(text: str, case_id: int, vault: Vault | None, redacted: str) -> str:
    """What a new case stores: the original sealed, or without a key `redacted`."""
    return vault.seal(text, context(case_id)) if vault is not None else redacted


def read(stored: str, case_id: int, vault: Vault | None) -> str:
    """A case's text as the safety team reads it (never raises: a text that cannot be
    opened says why)."""
    if not is_sealed(stored):
        return stored
    if vault is None:
        return UNREADABLE
    try:
        return vault.open(stored, context(case_id))
    except VaultError as exc:
        return f"[{exc}]"


def texts(session: Session, case_ids: list[int], vault: Vault | None) -> dict[int, str]:
    """The opened texts of these cases, by case id (see `read`)."""
    rows = session.connection().execute(select(_pv.c.id, _pv.c.text).where(_pv.c.id.in_(case_ids)))
    return {int(i): read(str(t), int(i), vault) for i, t in rows}


def text_for(session: Session, case_id: int, vault: Vault | None) -> str:
    """The opened text of case `case_id`, for a notification about to be sent.

    Raises VaultError when the text is sealed and cannot be opened: the notification waits
    (and is retried) rather than go out without the report."""
    stored = session.connection().execute(select(_pv.c.text).where(_pv.c.id == case_id)).scalar()
    if stored is None:
        raise VaultError(f"PV case {case_id} does not exist")
    if not is_sealed(stored):
        return str(stored)
    if vault is None:
        raise VaultError("PV case texts are sealed but no PLAUDIT_PV_KEY is configured")
    return vault.open(stored, context(case_id))


@dataclass(frozen=True)
class Sealed:
    cases: int  # texts sealed now (kept plain before) or sealed again with the current key
    notices: int  # drug-safety notifications whose copy of the text was removed


def seal_plain(session: Session, vault: Vault, *, rekey: bool = False) -> Sealed:
    """Seal every case text kept plain (and, with `rekey`, re-seal those sealed with an
    older key); remove the text from drug-safety notifications that still carry a copy."""
    maintenance.overwrite_freed(session)  # the plain text must not linger in free pages
    connection = session.connection()
    done = 0
    rows = select(_pv.c.id, _pv.c.text)
    if not rekey:  # only texts kept plain: a start-up need not read every sealed one
        rows = rows.where(~_pv.c.text.startswith("pv1:"), _pv.c.text != ERASED)
    for case_id, stored in connection.execute(rows).all():
        if stored == ERASED:
            continue
        if not is_sealed(stored):
            plain = str(stored)
        elif rekey and vault.needs_rekey(stored):
            plain = vault.open(stored, context(case_id))
        else:
            continue
        sealed = vault.seal(plain, context(case_id))
        connection.execute(update(_pv).where(_pv.c.id == case_id).values(text=sealed))
        done += 1
    notices = 0
    for row_id, data in connection.execute(
        select(_outbox.c.id, _outbox.c.data).where(_outbox.c.template.startswith("pv."))
    ).all():
        if isinstance(data, dict) and "text" in data:
            kept = {k: v for k, v in data.items() if k != "text"}
            connection.execute(update(_outbox).where(_outbox.c.id == row_id).values(data=kept))
            notices += 1
    if done or notices:
        maintenance.checkpoint_after_commit(session)  # nor in SQLite's write-ahead log
    return Sealed(done, notices)


def erase_texts(session: Session, case_ids: list[int]) -> None:
    """Erase the texts of these cases (retention); their rows, dates and rules stay."""
    if case_ids:
        maintenance.overwrite_freed(session)
        session.connection().execute(update(_pv).where(_pv.c.id.in_(case_ids)).values(text=ERASED))
        maintenance.checkpoint_after_commit(session)


def awaiting_delivery(session: Session) -> set[int]:
    """Cases with a drug-safety notification not yet delivered (their text must stay)."""
    rows = session.connection().execute(
        select(_outbox.c.key).where(
            _outbox.c.key.startswith("pv:"), _outbox.c.status != "delivered"
        )
    )
    found: set[int] = set()
    for (key,) in rows:
        middle = str(key).split(":")[1:2]  # pv:<case>:<platform>
        if middle and middle[0].isdigit():
            found.add(int(middle[0]))
    return found

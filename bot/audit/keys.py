"""The audit key from the environment: `PLAUDIT_AUDIT_KEY`, or a file it names."""

from __future__ import annotations

from bot.settings import Settings
from storage.audit import AuditKey, AuditKeyError


class AuditKeyMissing(Exception):
    """Serving chat without a key to seal the audit trail with."""


REQUIRED = (
    "PLAUDIT_AUDIT_KEY is required: the audit trail is sealed with it (HMAC-SHA256) and its "
    "checkpoints are signed with a key derived from it, so that no one who can only edit "
    "the database can rewrite or shorten the trail unseen; it is never written to the "
    "database. Make one with plaudit audit keygen, set PLAUDIT_AUDIT_KEY (or "
    "PLAUDIT_AUDIT_KEY_FILE, a file holding it), keep it out of database backups, and start "
    "again."
)


def audit_key(settings: Settings, *, serving: bool) -> AuditKey | None:
    """The configured key; serving chat needs one (ValueError names a bad file or key)."""
    raw = settings.audit_key.get_secret_value() if settings.audit_key is not None else None
    if raw is None and settings.audit_key_file is not None:
        try:
            raw = settings.audit_key_file.read_text("utf-8")
        except OSError as exc:
            raise ValueError(
                f"PLAUDIT_AUDIT_KEY_FILE: cannot read {settings.audit_key_file}: {exc}"
            ) from exc
        try:
            return AuditKey.parse(raw)
        except AuditKeyError as exc:
            raise ValueError(f"PLAUDIT_AUDIT_KEY_FILE: {exc}") from exc
    if raw:
        return AuditKey.parse(raw)  # the setting's validator has checked it
    if serving and settings.chat_enabled:
        raise AuditKeyMissing(REQUIRED)
    return None

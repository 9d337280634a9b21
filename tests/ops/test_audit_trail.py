"""The sealed audit trail: what someone who can edit the database but lacks the key tries,
and what `verify` says of it; the order entries are sealed in; nothing lost to a crash."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest
from sqlalchemy import DateTime, Engine, bindparam, text
from sqlmodel import Session

from bot.audit.checkpoints import Publisher, read
from bot.jobs.sealer import Sealer
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers.policy import KudosPolicy
from storage import audit, migrate, queries
from storage.audit import GENESIS, AuditKey, Checkpoint, HeadMismatch, leaf, seal_all
from storage.audit_verify import Verdict, unkeyed_hash, verify
from storage.db import transaction
from tests.harness import AUDIT_KEY

KEY = AuditKey.parse(AUDIT_KEY)
OTHER = AuditKey.parse(audit.new_key())
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _append(engine: Engine, n: int, *, start: int = 0) -> None:
    with transaction(engine) as s:
        for i in range(start, start + n):
            queries.append_audit(
                session=s,
                actor=f"member:{i}",
                action="kudos.pass",
                subject=f"recognition:{i}",
                detail={"n": i, "values": ["#teamwork"]},
                at=NOW + timedelta(seconds=i),
            )


def _verify(engine: Engine, published: list[Checkpoint] = (), key: AuditKey = KEY) -> Verdict:  # type: ignore[assignment]
    with Session(engine) as s:
        return verify(s, key, published=published, now=NOW + timedelta(hours=1))


def _sealed(engine: Engine, n: int) -> Checkpoint:
    _append(engine, n)
    done = seal_all(engine, KEY, now=NOW)
    assert done.added == n and done.checkpoint is not None
    return done.checkpoint


def test_a_sealed_trail_is_proved_entry_by_entry_and_against_its_checkpoints(
    engine: Engine,
) -> None:
    first = _sealed(engine, 5)
    _append(engine, 3, start=5)
    second = seal_all(engine, KEY, now=NOW, batch=2)  # several batches, one transaction each
    assert second.added == 3 and second.checkpoint is not None
    verdict = _verify(engine, [first, second.checkpoint])
    assert verdict.intact, verdict.problems
    assert (verdict.sealed, verdict.unsealed) == (8, 0)
    assert verdict.proved_against == second.checkpoint
    # 2 published, and the database's own: one per batch (5, then 7 and 8).
    assert verdict.checkpoints == 5


def test_removing_the_newest_entries_is_caught_by_a_checkpoint_kept_elsewhere(
    engine: Engine,
) -> None:
    published = _sealed(engine, 6)
    with transaction(engine) as s:
        # Everything someone with the database can do: the entries and the checkpoints.
        s.connection().execute(text("DELETE FROM audit_entry WHERE seq > 4"))
        s.connection().execute(text("DELETE FROM audit_checkpoint"))
    assert _verify(engine).intact  # without an outside copy there is nothing to compare
    verdict = _verify(engine, [published])
    assert not verdict.intact
    assert "removed from the end" in verdict.problems[0]
    assert "signs 6 sealed entries, the database holds 4" in verdict.problems[0]


def test_an_edited_entry_with_every_later_mac_recomputed_is_caught(engine: Engine) -> None:
    published = _sealed(engine, 5)
    with transaction(engine) as s:
        conn = s.connection()
        conn.execute(text("UPDATE audit_entry SET actor = 'member:99' WHERE seq = 3"))
        # Recompute the chain from there with the only key available (not ours), and
        # replace the database's checkpoints with ones signed by it.
        rows = conn.execute(
            text(
                "SELECT id, seq, at, actor, action, subject, detail, mac FROM audit_entry "
                "ORDER BY seq"
            )
        ).all()
        prev = rows[1].mac
        for row in rows[2:]:
            detail = json.loads(row.detail) if isinstance(row.detail, str) else row.detail
            at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(row.at)
            body = leaf(
                entry_id=row.id,
                seq=row.seq,
                at=at.replace(tzinfo=UTC),
                actor=row.actor,
                action=row.action,
                subject=row.subject,
                detail=detail,
            )
            prev = OTHER.link(prev, body)
            conn.execute(
                text("UPDATE audit_entry SET mac = :m WHERE id = :id"), {"m": prev, "id": row.id}
            )
        forged = OTHER.sign(5, prev, NOW)
        conn.execute(text("DELETE FROM audit_checkpoint"))
        conn.execute(
            text(
                "INSERT INTO audit_checkpoint (size, head, at, key_id, public_key, signature) "
                "VALUES (:size, :head, :at, :key_id, :public_key, :signature)"
            ).bindparams(bindparam("at", type_=DateTime())),
            {**forged.as_json(), "at": NOW.replace(tzinfo=None)},
        )
    verdict = _verify(engine, [published])
    assert not verdict.intact
    assert any("signed with audit key" in p for p in verdict.problems)  # the forged one
    # With the forged checkpoint out of the way, the entry itself is named.
    with transaction(engine) as s:
        s.connection().execute(text("DELETE FROM audit_checkpoint"))
    verdict = _verify(engine, [published])
    assert not verdict.intact and "(place 3) does not match its seal" in verdict.problems[0]
    assert verdict.sealed == 2


def test_reordered_entries_are_caught(engine: Engine) -> None:
    _sealed(engine, 4)
    with transaction(engine) as s:
        conn = s.connection()
        conn.execute(text("UPDATE audit_entry SET seq = -seq WHERE seq IN (2, 3)"))
        conn.execute(text("UPDATE audit_entry SET seq = 5 + seq WHERE seq IN (-2, -3)"))
    # Each mac still matches its own entry's old place, so the swap shows at place 2.
    verdict = _verify(engine)
    assert not verdict.intact and "(place 2) does not match its seal" in verdict.problems[0]


def test_a_deleted_entry_in_the_middle_leaves_a_gap(engine: Engine) -> None:
    _sealed(engine, 4)
    with transaction(engine) as s:
        s.connection().execute(text("DELETE FROM audit_entry WHERE seq = 2"))
    verdict = _verify(engine)
    assert not verdict.intact
    assert "sealed entry 2 is missing" in verdict.problems[0] and verdict.sealed == 1


def test_a_wrong_key_is_named_as_such(engine: Engine) -> None:
    published = _sealed(engine, 3)
    verdict = _verify(engine, [published], key=OTHER)
    assert not verdict.intact
    assert (
        f"signed with audit key {KEY.key_id}, but the key given is {OTHER.key_id}"
        in (verdict.problems[0])
    )


def test_an_edited_checkpoint_does_not_verify(engine: Engine) -> None:
    published = _sealed(engine, 3)
    bigger = Checkpoint.from_json({**published.as_json(), "size": 2})
    verdict = _verify(engine, [bigger])
    assert not verdict.intact and "does not verify under its own key" in verdict.problems[0]


def test_the_sealer_will_not_seal_onto_a_shortened_trail(engine: Engine) -> None:
    _sealed(engine, 3)
    with transaction(engine) as s:
        s.connection().execute(text("DELETE FROM audit_entry WHERE seq = 3"))
    _append(engine, 1, start=10)
    with pytest.raises(HeadMismatch, match="ends at entry 2"):
        seal_all(engine, KEY, now=NOW)


def test_an_entry_appended_before_a_crash_is_sealed_by_the_next_sealer(engine: Engine) -> None:
    _append(engine, 2)  # committed; the process dies before any seal
    with pytest.raises(RuntimeError), transaction(engine) as s:
        audit.seal(s, KEY, now=NOW)
        raise RuntimeError("killed in the middle of a seal")  # rolled back whole
    with Session(engine) as s:
        assert s.connection().execute(text("SELECT count(*) FROM audit_checkpoint")).scalar() == 0
    assert _verify(engine).unsealed == 2
    done = seal_all(engine, KEY, now=NOW)  # a new process
    assert done.added == 2
    verdict = _verify(engine)
    assert verdict.intact and (verdict.sealed, verdict.unsealed) == (2, 0)


def test_entries_waiting_longer_than_the_grace_are_reported(engine: Engine) -> None:
    _append(engine, 2)
    with Session(engine) as s:
        fresh = verify(s, KEY, now=NOW + timedelta(seconds=5))
        stale = verify(s, KEY, now=NOW + timedelta(minutes=5))
    assert fresh.intact and (fresh.unsealed, fresh.stale) == (2, 0)
    assert stale.intact and (stale.unsealed, stale.stale) == (2, 2)


def test_entries_are_sealed_in_the_order_they_became_visible(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: commit order is id order")
    late = Session(engine)
    queries.append_audit(
        session=late, actor="late", action="x", subject="s", detail={}, at=NOW
    )  # its id comes first, its commit last
    _append(engine, 1)
    assert seal_all(engine, KEY, now=NOW).added == 1  # the late one is not visible yet
    late.commit()
    late.close()
    assert seal_all(engine, KEY, now=NOW).added == 1
    with Session(engine) as s:
        order = s.connection().execute(text("SELECT actor FROM audit_entry ORDER BY seq")).all()
    assert [r.actor for r in order] == ["member:0", "late"]
    verdict = _verify(engine)
    assert verdict.intact and verdict.sealed == 2


def test_checkpoints_are_published_to_a_directory_and_read_back(
    engine: Engine, tmp_path: Path
) -> None:
    publisher = Publisher(tmp_path / "checkpoints", every=3600)
    first = _sealed(engine, 2)
    publisher.publish(first)
    _append(engine, 2, start=2)
    second = seal_all(engine, KEY, now=NOW).checkpoint
    assert second is not None
    publisher.publish(second)  # within `every`: the newest file only, no history line
    latest = json.loads((tmp_path / "checkpoints" / "checkpoint.json").read_text())
    assert latest["size"] == 4
    history = (tmp_path / "checkpoints" / "checkpoints.jsonl").read_text().splitlines()
    assert [json.loads(line)["size"] for line in history] == [2]
    found = read(tmp_path / "checkpoints")
    assert sorted(c.size for c in found) == [2, 4] and all(c.genuine() for c in found)
    log = tmp_path / "plaudit.log"
    message = "audit checkpoint " + json.dumps(second.as_json())
    log.write_text(json.dumps({"level": "INFO", "message": message}) + "\nplain line\n")
    assert read(log) == [second]
    assert _verify(engine, read(tmp_path / "checkpoints")).intact


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_sealer_seals_about_every_second_and_at_its_stop(
    engine: Engine, tmp_path: Path
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/checkpoints"
    runtime = Runtime(engine=engine, policy=KudosPolicy(), rules=default_rules(), audit_key=KEY)
    publisher = Publisher(tmp_path, hook, every=0)

    async def scenario() -> tuple[int, int]:
        sealer = Sealer(runtime, KEY, publisher, every=0.05)
        sealer.start()
        await asyncio.to_thread(_append, engine, 3)
        for _ in range(100):
            if sealer.sealed == 3:
                break
            await asyncio.sleep(0.05)
        seen = sealer.sealed
        sealer.every = 3600  # no more runs: what follows is sealed by the stop
        await asyncio.sleep(0.1)
        await asyncio.to_thread(_append, engine, 2, start=3)
        await sealer.stop()
        return seen, sealer.sealed

    try:
        assert asyncio.run(scenario()) == (3, 5)
    finally:
        server.shutdown()
        server.server_close()
    assert [c["size"] for c in _Hook.received][-1] == 5
    latest = read(tmp_path / "checkpoint.json")
    assert [c.size for c in latest] == [5]
    verdict = _verify(engine, read(tmp_path))
    assert verdict.intact and verdict.sealed == 5 and verdict.proved_against is not None


def test_a_chain_from_before_sealing_is_checked_then_sealed(engine: Engine) -> None:
    migrate.downgrade(engine, "0009")
    prev = GENESIS
    with transaction(engine) as s:
        for n in range(3):
            entry = {"at": NOW, "actor": "cli", "action": "x", "subject": f"s{n}"}
            digest = unkeyed_hash(prev, SimpleNamespace(**entry, detail={"n": n}))
            s.connection().execute(
                text(
                    "INSERT INTO audit_entry (at, actor, action, subject, detail, prev_hash, "
                    "hash) VALUES (:at, :actor, :action, :subject, :detail, :prev, :hash)"
                ).bindparams(bindparam("at", type_=DateTime())),
                {
                    **entry,
                    "at": NOW.replace(tzinfo=None),
                    "detail": json.dumps({"n": n}),
                    "prev": prev,
                    "hash": digest,
                },
            )
            prev = digest
    migrate.upgrade(engine)
    _append(engine, 1)  # a new entry: no unkeyed hash
    assert seal_all(engine, KEY, now=NOW).added == 4  # the old ones first, in id order
    verdict = _verify(engine)
    assert verdict.intact and (verdict.sealed, verdict.legacy) == (4, 3)
    # Stepping down continues the unkeyed chain over the entries written since.
    migrate.downgrade(engine, "0009")
    with Session(engine) as s:
        hashes = s.connection().execute(text("SELECT prev_hash, hash FROM audit_entry")).all()
    assert len(hashes) == 4 and hashes[3].prev_hash == hashes[2].hash
    migrate.upgrade(engine)
    with transaction(engine) as s:
        s.connection().execute(text("UPDATE audit_entry SET actor = 'x' WHERE subject = 's1'"))
    verdict = _verify(engine)
    assert not verdict.intact
    assert "from before sealing, does not match its unkeyed hash" in verdict.problems[-1]

"""PV case texts at rest: sealed with a key kept outside the database, opened only to send a
notification or for the drug-safety team, erased under retention once delivered."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, inspect, update
from sqlalchemy import text as sql
from sqlmodel import Session, select

from bot.cli.main import main
from bot.settings import Settings
from compliance_rules import default_rules
from handlers import kudos, retention, surveys
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage import pv_cases
from storage.models import AuditEntry, Outbox, PvCase, Recognition, SurveyAnswer
from storage.vault import Vault, VaultError, context, new_key
from tests.harness import PV_KEY
from tests.ops.test_pv_delivery import SafetyInbox, deliver

VAULT = Vault.parse(PV_KEY)
# A name and a street no rule can recognise as a patient identifier (where someone lives
# would be: "who lives on Harrow Lane").
REPORT = (
    "thanks for taking the call: Edith Crawley, who sings in the Harrow Lane choir, was "
    "hospitalised with a severe rash two days after her first dose of Cardivex"
)
IDENTIFYING = ("Crawley", "Harrow Lane")
ALICE = Person("slack", "T0001", "U0001", "Alice", timezone="UTC", email="alice@example.com")
BOB = Person("slack", "T0001", "U0002", "Bob", timezone="UTC")


def report(engine: Engine, policy: KudosPolicy, clock: FixedClock, key: str = "k1") -> None:
    event = KudosRequested(key, ALICE, (BOB,), REPORT, (), "command", "C0001")
    with Session(engine) as session:
        result = kudos.give(event, session=session, policy=policy, clock=clock)
        session.commit()
    assert isinstance(result, kudos.Stopped) and result.outcome.value == "route_pv"


def dump(engine: Engine) -> str:
    """Every row of every table, as text."""
    with engine.connect() as conn:
        return "\n".join(
            str(row)
            for table in inspect(engine).get_table_names()
            for row in conn.execute(sql(f"SELECT * FROM {table}"))
        )


def test_a_sealed_text_opens_only_with_its_key_and_in_its_place() -> None:
    sealed = VAULT.seal(REPORT, context(7))
    assert sealed.startswith(f"pv1:{VAULT.key_id}:") and "Crawley" not in sealed
    assert VAULT.open(sealed, context(7)) == REPORT
    assert VAULT.seal(REPORT, context(7)) != sealed  # a fresh nonce each time
    with pytest.raises(VaultError, match="altered or moved"):
        VAULT.open(sealed, context(8))
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(VaultError):
        VAULT.open(flipped, context(7))
    with pytest.raises(VaultError, match="not configured"):
        Vault.parse(new_key()).open(sealed, context(7))
    assert PV_KEY not in repr(VAULT) and PV_KEY not in repr(KudosPolicy(pv_vault=VAULT))


def test_a_key_that_is_not_a_key_is_refused_with_the_setting_named() -> None:
    for bad in ("short", "not base64 at all!!", new_key()[:-8]):
        with pytest.raises(ValidationError, match="PLAUDIT_PV_KEY"):
            Settings.model_validate({"PLAUDIT_PV_KEY": bad})
    two = Settings.model_validate({"PLAUDIT_PV_KEY": f"{new_key()}, {PV_KEY}"})
    assert two.pv_key is not None


def test_a_reported_patient_is_in_no_row_and_no_database_file_yet_reaches_drug_safety(
    file_engine: Engine, clock: FixedClock
) -> None:
    inbox = SafetyInbox()
    try:
        report(file_engine, KudosPolicy(safety_webhook=inbox.url, pv_vault=VAULT), clock)
        rows = dump(file_engine)
        assert not any(name in rows for name in IDENTIFYING)
        with Session(file_engine) as s:
            case = s.exec(select(PvCase)).one()
            notice = s.exec(select(Outbox)).one()
            kept = s.exec(select(Recognition)).one().text
        assert case.text.startswith("pv1:") and "text" not in notice.data
        assert kept.startswith("[held by drug safety #")
        if file_engine.dialect.name == "sqlite":
            database = Path(str(file_engine.url.database))
            for path in (database, database.with_name(database.name + "-wal")):
                if path.exists():
                    assert b"Crawley" not in path.read_bytes(), path
        asyncio.run(deliver(file_engine, vault=VAULT))
        (received,) = inbox.received
        assert received["text"] == REPORT and received["case_id"] == case.id
    finally:
        inbox.close()


def test_without_its_key_a_notification_is_never_sent_without_the_report(
    file_engine: Engine, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = SafetyInbox()
    try:
        report(file_engine, KudosPolicy(safety_webhook=inbox.url, pv_vault=VAULT), clock)
        with caplog.at_level(logging.CRITICAL, logger="plaudit.outbox"):
            asyncio.run(deliver(file_engine, max_attempts=2, vault=Vault.parse(new_key())))
        assert inbox.received == []
        with Session(file_engine) as s:
            row = s.exec(select(Outbox)).one()
        assert row.status == "dead" and "not configured" in (row.last_error or "")
        assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    finally:
        inbox.close()


def test_a_sealed_text_copied_onto_another_case_does_not_open(
    engine: Engine, clock: FixedClock
) -> None:
    policy = KudosPolicy(safety_channel="C0SAFETY", pv_vault=VAULT)
    report(engine, policy, clock, "k1")
    report(engine, policy, clock, "k2")
    with Session(engine) as s:
        first, second = s.exec(select(PvCase).order_by(PvCase.id)).all()
        assert first.id is not None and second.id is not None
        s.connection().execute(
            update(PvCase.__table__)
            .where(PvCase.__table__.c.id == second.id)
            .values(text=first.text)  # type: ignore[attr-defined]
        )
        assert pv_cases.text_for(s, first.id, VAULT) == REPORT
        with pytest.raises(VaultError, match="altered or moved"):
            pv_cases.text_for(s, second.id, VAULT)
        assert pv_cases.texts(s, [second.id], VAULT)[second.id].startswith("[sealed text")


def test_texts_kept_plain_are_sealed_and_keys_rotate_with_plaudit_pv_rekey(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from storage import migrate
    from storage.db import make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    # Opened without a key, and a notification as an earlier version queued it (with text).
    report(engine, KudosPolicy(safety_channel="C0SAFETY"), clock)
    with Session(engine) as s:
        row = s.exec(select(Outbox)).one()
        row.data = {**row.data, "text": REPORT}
        s.add(row)
        s.commit()
        assert "Crawley" in s.exec(select(PvCase)).one().text  # no rule recognises her name
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", url)
    monkeypatch.setenv("PLAUDIT_PV_KEY", PV_KEY)
    assert main(["pv", "rekey"]) == 0
    assert "sealed 1 PV case text with key" in capsys.readouterr().out
    assert "Crawley" not in dump(engine)
    for path in (tmp_path / "old.db", tmp_path / "old.db-wal"):  # nor in freed pages or log
        assert not path.exists() or b"Crawley" not in path.read_bytes(), path
    with Session(engine) as s:
        sealed = s.exec(select(PvCase)).one()
    assert sealed.id is not None and VAULT.open(sealed.text, context(sealed.id)) == REPORT

    newer = new_key()
    monkeypatch.setenv("PLAUDIT_PV_KEY", f"{newer},{PV_KEY}")
    assert main(["pv", "rekey"]) == 0
    with Session(engine) as s:
        rotated = s.exec(select(PvCase)).one().text
    assert rotated.split(":")[1] == Vault.parse(newer).key_id
    assert Vault.parse(newer).open(rotated, context(sealed.id)) == REPORT
    with pytest.raises(VaultError):
        VAULT.open(rotated, context(sealed.id))  # the old key can now be dropped
    engine.dispose()


def test_retention_erases_a_case_text_only_once_drug_safety_has_it(
    engine: Engine, clock: FixedClock
) -> None:
    report(engine, KudosPolicy(safety_channel="C0SAFETY", pv_vault=VAULT), clock)
    rules = retention.Retention(pv_text_days=30)
    later = clock.now() + timedelta(days=31)
    with Session(engine) as s:
        assert retention.purge(s, retention=rules, now=clock.now()).pv_texts == 0  # too soon
        assert retention.purge(s, retention=rules, now=later).pv_texts == 0  # not delivered
        s.exec(select(Outbox)).one().status = "delivered"
        s.commit()
        assert retention.purge(s, retention=rules, now=later).pv_texts == 1
        s.commit()
        case = s.exec(select(PvCase)).one()
        assert case.text == pv_cases.ERASED and case.aware_at == clock.now()
        purge = s.exec(select(AuditEntry).where(AuditEntry.action == "retention.purge")).one()
        assert purge.detail["pv_texts"] == 1
        assert retention.purge(s, retention=rules, now=later).pv_texts == 0  # once


def test_a_survey_answer_s_case_keeps_the_original_and_the_answer_only_a_mark(
    engine: Engine, clock: FixedClock
) -> None:
    from tests.handlers.test_surveys import PULSE, add_members, open_pulse, person

    policy = KudosPolicy(safety_channel="C0SAFETY", pv_vault=VAULT)
    with Session(engine, expire_on_commit=False) as s:
        (member,) = add_members(s, 1)
        round_id = open_pulse(s)
        result = surveys.answer(
            surveys.SurveyAnswered(person(member), round_id, "comment", text=REPORT),
            session=s,
            now=clock.now(),
            rules=default_rules(),
            policy=policy,
        )
        s.commit()
        assert isinstance(result, surveys.Answered) and PULSE.anonymous
        case = s.exec(select(PvCase)).one()
        answer = s.exec(select(SurveyAnswer)).one()
    assert case.id is not None and VAULT.open(case.text, context(case.id)) == REPORT
    assert answer.text is not None and answer.text.startswith("[held by drug safety #")
    assert not any(name in dump(engine) for name in IDENTIFYING)

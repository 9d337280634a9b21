"""KPI events: read and checked, stored once under their id, and milestones awarded once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select

from bot.config.sprints import MilestoneConfig
from handlers import kpis
from handlers.milestones import Milestone, progress
from handlers.policy import KudosPolicy
from storage.models import AuditEntry, KpiEvent, Member, MilestoneAward, MilestoneShare, Outbox

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TODAY = NOW.date()


def event(event_id: str = "ctms-1", **fields: object) -> dict[str, object]:
    return {"id": event_id, "kind": "first_patient_in", "date": "2026-11-20", **fields}


def test_an_event_is_read_with_its_kind_normalised() -> None:
    raw = event(kind="First patient in", team=" Oncology ", value="1.50", title="ONC-301")
    read = kpis.read_event(raw, TODAY)
    assert read == kpis.KpiReport(
        "ctms-1", "first_patient_in", date(2026, 11, 20), "Oncology", None, None,
        Decimal("1.5"), "ONC-301",
    )  # fmt: skip
    stamped = kpis.read_event(event(date="2026-11-20T23:30:00-05:00"), TODAY)
    assert stamped.occurred_on == date(2026, 11, 20)  # the day as written


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"kind": "x", "date": "2026-11-20"}, "id: required"),
        (event(kind=""), "kind: required"),
        (event(kind="site/activated"), "kind:"),
        (event(date="20/11/2026"), "date:"),
        (event(date="2026-12-24"), "in the future"),
        (event(date="1999-12-31"), "before 2000"),
        (event(date=20261120), "date:"),
        (event(value="lots"), "value:"),
        (event(value="NaN"), "value: out of range"),
        (event(value=True), "value: expected a number"),
        (event(value="1e20"), "value: out of range"),
        (event(team="a" * 121), "team: at most 120"),
        (event(title="launch\u202eevil"), "title: control or invisible"),
        (event(teem="Brand"), "unknown field 'teem'"),
        (event(team=["Brand"]), "team: expected text"),
    ],
)
def test_a_bad_event_is_refused_naming_the_field(raw: dict[str, object], says: str) -> None:
    with pytest.raises(kpis.KpiError) as caught:
        kpis.read_event(raw, TODAY)
    assert says in str(caught.value)


def test_a_delivery_names_its_bad_event_and_its_repeats_must_agree() -> None:
    rows = [event("a"), event("b", date="nope")]
    with pytest.raises(kpis.KpiError, match=r"^event 2: date:"):
        kpis.read_events(rows, TODAY)
    with pytest.raises(kpis.KpiError, match=r"line 9: id 'a' twice"):
        kpis.read_events([event("a"), event("a", value=2)], TODAY, places=["line 8", "line 9"])
    assert len(kpis.read_events([event("a"), event("a")], TODAY)) == 1
    with pytest.raises(kpis.KpiError, match="at most 200"):
        kpis.read_events([event(str(n)) for n in range(201)], TODAY)
    with pytest.raises(kpis.KpiError, match="no events"):
        kpis.read_events([], TODAY)


def team(session: Session, name: str = "Oncology", size: int = 3) -> list[Member]:
    people = [
        Member(email=f"{name.lower()}{n}@example.com", display_name=f"{name} {n}", team=name)
        for n in range(size)
    ]
    session.add_all(people)
    session.commit()
    return people


def record(
    session: Session, rows: list[dict[str, object]], *milestones: Milestone
) -> kpis.Recorded:
    policy = KudosPolicy(recognition_channel="C0KUDOS")
    context = kpis.MilestoneContext(tuple(milestones), policy.sprints, policy)
    events = kpis.read_events(rows, TODAY)
    done = kpis.record(events, session=session, now=NOW, source="webhook", context=context)
    session.commit()
    return done


def test_events_are_stored_once_and_a_changed_repeat_changes_nothing(session: Session) -> None:
    first = record(session, [event("a"), event("b", team="Oncology", value=3)])
    assert (first.stored, first.repeated) == (2, 0)
    again = record(session, [event("a"), event("b", team="Oncology", value=3)])
    assert (again.stored, again.repeated) == (0, 2)
    with pytest.raises(kpis.KpiConflict) as conflict:
        record(session, [event("c"), event("b", team="Oncology", value=4)])
    session.rollback()
    assert conflict.value.ids == ("b",)
    stored = session.exec(select(KpiEvent).order_by(KpiEvent.event_id)).all()
    assert [(e.event_id, e.value) for e in stored] == [("a", None), ("b", Decimal(3))]
    audit = session.exec(select(AuditEntry).where(AuditEntry.action == "kpi.recorded")).all()
    assert [a.detail for a in audit] == [{"stored": 2, "repeated": 0}]


EACH = Milestone(
    id="fpi", title="First patient in", source="kpi", threshold="each", points=9,
    team="Oncology", kind="first_patient_in", match_team="Oncology",
)  # fmt: skip


def test_each_event_of_its_team_awards_once_and_is_announced_once(session: Session) -> None:
    people = team(session)
    done = record(
        session,
        [event("a", team="Oncology", title="ONC-301"), event("b", team="Cardio")],
        EACH,
    )
    assert [a.points for a in done.awarded] == [9]
    assert sorted(done.awarded[0].shares.values()) == [3, 3, 3]
    assert record(session, [event("a", team="Oncology", title="ONC-301")], EACH).awarded == ()
    later = record(session, [event("c", team="Oncology", title="ONC-302")], EACH)
    assert [a.title for a in later.awarded] == ["First patient in: ONC-302"]
    awards = session.exec(select(MilestoneAward)).all()
    assert len(awards) == 2 and all(a.detail["event"] in ("a", "c") for a in awards)
    assert len(session.exec(select(MilestoneShare)).all()) == 2 * len(people)
    posts = session.exec(select(Outbox).where(Outbox.channel == "C0KUDOS")).all()
    assert len(posts) == 2
    actors = session.exec(select(AuditEntry.actor).where(AuditEntry.action == "milestone.awarded"))
    assert set(actors) == {"kpi"}


def test_a_count_or_a_sum_in_a_window_awards_once_when_reached(session: Session) -> None:
    team(session)
    sites = Milestone(
        id="sites", title="Ten sites active", source="kpi", threshold="events",
        at_least=Decimal(3), points=12, team="Oncology", kind="site_activated",
        window_start=datetime(2026, 11, 1, tzinfo=UTC),
        window_end=datetime(2026, 11, 21, tzinfo=UTC),
    )  # fmt: skip
    enrolled = Milestone(
        id="enrolled", title="40 enrolled", source="kpi", threshold="value",
        at_least=Decimal(40), points=6, team="Oncology", kind="enrolment",
    )  # fmt: skip
    site: dict[str, object] = {"kind": "site_activated"}
    outside = event("s0", **site, date="2026-11-21")  # the window ends as that day starts
    first = record(session, [event("s1", **site), event("s2", **site), outside], sites)
    assert first.awarded == ()
    assert progress(sites, session=session, now=NOW).value == 2
    assert [a.points for a in record(session, [event("s3", **site)], sites).awarded] == [12]
    assert record(session, [event("s4", **site)], sites).awarded == ()
    more = [event(f"e{n}", kind="enrolment", value="12.5") for n in range(3)]
    assert record(session, more, enrolled).awarded == ()  # 37.5
    assert len(record(session, [event("e9", kind="enrolment", value=3)], enrolled).awarded) == 1


def test_kpi_milestones_in_plaudit_yaml_are_checked() -> None:
    built = MilestoneConfig.model_validate(
        {
            "id": "fpi",
            "title": "First patient in",
            "source": "kpi",
            "match": {"kind": "First patient in", "team": "Oncology"},
            "window": {"start": "2026-10-01T00:00:00Z"},
            "award": {"points": 5, "team": "Oncology"},
        }
    ).milestone()
    assert (built.kind, built.match_team, built.threshold) == (
        "first_patient_in",
        "Oncology",
        "each",
    )
    counted = {"source": "kpi", "match": {"kind": "site_activated"}, "threshold": {"events": 3}}
    since = {"start": "2026-10-01T00:00:00Z"}
    base = {"id": "x", "title": "X", "award": {"points": 1, "team": "T"}, "window": since}
    assert MilestoneConfig.model_validate({**base, **counted}).milestone().at_least == 3
    wrongs: list[tuple[dict[str, object], str]] = [
        ({"source": "kpi"}, "match.kind"),
        ({"source": "promotion", "match": {"kind": "a"}}, "match.kind"),
        ({"source": "promotion", "match": {"team": "a"}}, "match.team"),
        ({"source": "kpi", "match": {"kind": "a"}, "threshold": {"orders": 2}}, "threshold"),
        ({"source": "kpi", "match": {"kind": "a", "id": 3}}, "not id"),
        ({"source": "kpi", "match": {"kind": "a"}, "window": {}}, "window.start"),
    ]
    for wrong, says in wrongs:
        with pytest.raises(ValidationError, match=says):
            MilestoneConfig.model_validate({**base, **wrong})

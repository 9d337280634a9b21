"""Larkspur's KPI feed in the demo: half a year of study-site and campaign events, as its
CTMS and CRM would report them, and a milestone on one of them."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from bot.runtime import Runtime
from handlers import kpis
from handlers.milestones import Milestone

WEEKS = 26
KPI_MILESTONES = (
    Milestone(
        id="first-patient-in",
        title="First patient in",
        source="kpi",
        threshold="each",
        points=8,
        team="Field",
        kind="first_patient_in",
        match_team="Field",
    ),
)


def seed_kpis(runtime: Runtime, *, now: datetime, rng: random.Random) -> kpis.Recorded:
    """Sites activated and patients enrolled week by week (more in the weeks with more
    kudos, loosely), a first patient in now and then, through the real use case."""
    rows: list[dict[str, object]] = []
    for week in range(WEEKS):
        day = (now - timedelta(weeks=WEEKS - 1 - week)).date()
        for n in range(rng.randint(0, 3)):
            rows.append(
                {"id": f"ctms-site-{week}-{n}", "kind": "site_activated",
                 "date": day.isoformat(), "team": "Field", "value": 1}
            )  # fmt: skip
        rows.append(
            {"id": f"ctms-enrol-{week}", "kind": "patients_enrolled", "date": day.isoformat(),
             "team": "Medical Affairs", "value": str(Decimal(rng.randint(4, 30)))}
        )  # fmt: skip
        if week % 9 == 8:
            rows.append(
                {"id": f"ctms-fpi-{week}", "kind": "first_patient_in", "date": day.isoformat(),
                 "team": "Field", "title": f"LARK-{300 + week}"}
            )  # fmt: skip
    events = kpis.read_events(rows, now.date(), most=None)
    context = kpis.MilestoneContext(KPI_MILESTONES, runtime.policy.sprints, runtime.policy)
    return runtime.run_sync(
        lambda s: kpis.record(events, session=s, now=now, source="csv", context=context)
    )

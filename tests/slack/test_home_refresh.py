"""Home tabs drawn again after kudos: each person once however many kudos name them while
they wait, never more often than the workspace's budget allows, again after a 429 once Slack's
Retry-After is over, and not at all when the tab was just opened."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from bot.slack.home_refresh import Refresher
from bot.slack.limits import Budget
from handlers.events import KudosRequested, Person
from handlers.kudos import Recorded, Refused

CLIENT: Any = object()  # the refresher only hands it back to its publish function


def _person(user: str, team: str = "T1") -> Person:
    return Person("slack", team, user, user.lower(), locale="de-DE" if user == "U2" else None)


def _kudos(n: int, giver: str, *recipients: str, team: str = "T1") -> KudosRequested:
    return KudosRequested(
        key=f"k{n}",
        giver=_person(giver, team),
        recipients=tuple(_person(r, team) for r in recipients),
        message="for the launch deck",
        values=(),
        source="command",
    )


def _recorded(n: int) -> Recorded:
    return Recorded(recognition_id=n, recipients=(), allowance_left=5)


class Drawn:
    """A publish function that records who was drawn, when, and in which language."""

    def __init__(self, refuse: int = 0, retry_after: str = "1") -> None:
        self.calls: list[tuple[str, str, str | None, float]] = []
        self.refuse = refuse
        self.retry_after = retry_after

    async def __call__(self, client: Any, person: Person) -> None:
        assert client is CLIENT
        if self.refuse:
            self.refuse -= 1
            response = SlackResponse(
                client=None,
                http_verb="POST",
                api_url="https://slack.com/api/views.publish",
                req_args={},
                data={"ok": False, "error": "ratelimited"},
                headers={"Retry-After": self.retry_after},
                status_code=429,
            )
            self.calls.append(("429", person.user_id, person.locale, time.monotonic()))
            raise SlackApiError("ratelimited", response)
        self.calls.append((person.workspace or "", person.user_id, person.locale, time.monotonic()))

    def drawn(self) -> list[str]:
        return [user for team, user, _, _ in self.calls if team != "429"]


async def _settle(refresher: Refresher, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while refresher.waiting and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # the last publish, popped from the queue, finishes


def test_people_named_by_many_kudos_while_waiting_are_drawn_once_each() -> None:
    async def scenario() -> Drawn:
        drawn = Drawn()
        refresher = Refresher(drawn, budget=Budget(2, 0.4))
        for n in range(30):  # a burst: far more redraws asked for than the budget allows
            refresher.after(CLIENT, _kudos(n, "U1", "U2", "U3"), _recorded(n))
        assert refresher.waiting == 3
        await _settle(refresher)
        return drawn

    drawn = asyncio.run(scenario())
    assert sorted(drawn.drawn()) == ["U1", "U2", "U3"]
    assert [c[2] for c in drawn.calls if c[1] == "U2"] == ["de-DE"]  # in their own language
    times = [c[3] for c in drawn.calls]
    # The budget: two calls in any 0.4 s, so the third waited for the window to pass.
    assert times[2] - times[0] >= 0.35


def test_a_refused_redraw_waits_for_retry_after_and_is_drawn_then() -> None:
    async def scenario() -> Drawn:
        drawn = Drawn(refuse=1, retry_after="1")
        refresher = Refresher(drawn, budget=Budget(50, 60.0))
        refresher.after(CLIENT, _kudos(1, "U1", "U3"), _recorded(1))
        await _settle(refresher, 4.0)
        return drawn

    drawn = asyncio.run(scenario())
    refused = [c for c in drawn.calls if c[0] == "429"]
    assert len(refused) == 1
    assert sorted(drawn.drawn()) == ["U1", "U3"]
    assert min(c[3] for c in drawn.calls if c[0] != "429") - refused[0][3] >= 0.95


def test_a_full_workspace_does_not_hold_back_another() -> None:
    async def scenario() -> Drawn:
        drawn = Drawn()
        refresher = Refresher(drawn, budget=Budget(1, 30.0))
        refresher.after(CLIENT, _kudos(1, "U1", "U3"), _recorded(1))  # T1: one now, one later
        refresher.after(CLIENT, _kudos(2, "U7", team="T2"), _recorded(2))
        deadline = time.monotonic() + 2
        while len(drawn.calls) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert refresher.waiting == 1  # T1's second person waits for T1's budget
        return drawn

    drawn = asyncio.run(scenario())
    assert [(c[0], c[1]) for c in drawn.calls] == [("T1", "U1"), ("T2", "U7")]


def test_refusals_other_platforms_and_opened_tabs_draw_nothing() -> None:
    async def scenario() -> Drawn:
        drawn = Drawn()
        refresher = Refresher(drawn, budget=Budget(1, 30.0))
        refused = Refused(reason="self", message="no")
        refresher.after(CLIENT, _kudos(1, "U1", "U3"), refused)
        teams = KudosRequested(
            key="t", giver=Person("teams", "tenant", "29:a", "a"), recipients=(),
            message="m", values=(), source="command",
        )  # fmt: skip
        refresher.after(CLIENT, teams, _recorded(2))
        assert refresher.waiting == 0
        refresher.after(CLIENT, _kudos(3, "U1", "U3"), _recorded(3))  # U1 drawn at once
        await asyncio.sleep(0.05)
        refresher.opened("T1", "U3")  # opened: drawn by the opening, and it used the budget
        assert refresher.waiting == 0
        await asyncio.sleep(0.1)
        return drawn

    drawn = asyncio.run(scenario())
    assert drawn.drawn() == ["U1"]

"""Conversation tests' driver: the running app with a fake Slack workspace and a fake Teams
tenant around it, and the same cast of colleagues on both, speaking and reading like people.

    with Chat(engine) as chat:
        chat.slack.say("alice", "/kudos @bob for the site activation checklist #collaboration")
        assert "Kudos recorded for Bob" in chat.slack.ephemeral("alice")[-1]
        chat.teams.say("alice", "@Plaudit kudos @bob for the checklist", where="channel")
        assert "Alice gave you kudos" in chat.teams.card_to("bob")[-1]
        form = chat.teams.click("alice", "Edit and resend")  # a card's button, by title

Readers wait until the bot has delivered what it owes (everything after the answer to a
request goes through the outbox), then return the words people see; `.raw` keeps the
payload.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from handlers import kudos, surveys
from handlers.clock import Clock
from handlers.events import KudosRequested
from handlers.policy import KudosPolicy
from storage.models import Member
from tests.fakes.bot_connector import FakeConnector
from tests.harness import TOKEN, Server
from tests.transcript.cast import CAST, REVIEWER, Said, settle, someone
from tests.transcript.slack import CHANNELS as SLACK_CHANNELS
from tests.transcript.slack import RecordingSlack, SlackSide
from tests.transcript.teams import CHANNELS as TEAMS_CHANNELS
from tests.transcript.teams import TeamsSide

__all__ = ["CAST", "POLICY", "Chat", "Said", "Side", "SlackSide", "TeamsSide"]

POLICY = KudosPolicy(
    recognition_channel=SLACK_CHANNELS["kudos"],
    review_channel=SLACK_CHANNELS["review"],
    safety_channel=SLACK_CHANNELS["safety"],
    reviewers=(REVIEWER.email,),
    teams_recognition_channel=TEAMS_CHANNELS["kudos"],
    teams_review_channel=TEAMS_CHANNELS["review"],
    teams_safety_channel=TEAMS_CHANNELS["safety"],
)


class Side(Protocol):
    """What both platforms let a test do, for scenarios that read the same on each."""

    platform: str

    def command(self, who: str, words: str) -> None: ...
    def private(self, who: str) -> list[Said]: ...
    def dm(self, who: str) -> list[Said]: ...
    def posted(self, where: str) -> list[Said]: ...
    def seen(self, who: str) -> list[Said]: ...
    def click(self, who: str, label: str) -> object: ...


class Chat:
    """One running Plaudit, reachable from Slack (`slack`) and Teams (`teams`)."""

    def __init__(
        self,
        engine: Engine,
        *,
        policy: KudosPolicy = POLICY,
        clock: Clock | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self.slack_api = RecordingSlack(token=TOKEN, team_id="T0001")
        self.connector = FakeConnector()
        for person in CAST.values():
            self.slack_api.add_user(person.slack_id, person.name, email=person.email, tz=person.tz)
            self.connector.add_user(
                person.aad_id, person.name, person.email, user_id=person.teams_id
            )
        self.slack_api.start()
        self.connector.start()
        self.server = Server(
            engine,
            slack_api_url=self.slack_api.base_url,
            policy=policy,
            clock=clock,
            env={"PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED": "true", **(env or {})},
        )
        try:
            self.server.start()
        except BaseException:
            self.slack_api.stop()
            self.connector.stop()
            raise
        self.slack = SlackSide(self.server, self.slack_api, self.settle)
        self.teams = TeamsSide(self.server, self.connector, self.settle)

    def __enter__(self) -> Chat:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        try:
            self.server.stop()
        finally:
            self.slack_api.stop()
            self.connector.stop()

    def __getitem__(self, platform: str) -> Any:
        return {"slack": self.slack, "teams": self.teams}[platform]

    @property
    def runtime(self) -> Any:
        return self.server.runtime

    def settle(self) -> None:
        settle(self.engine)

    # -- the roster and the calendar ----------------------------------------------------

    def enrol(self, *handles: str, on: str) -> None:
        """Put people on the roster (as an HR import would) with their identity on `on`."""
        with Session(self.engine) as session:
            for handle in handles:
                person = someone(handle)
                ids: dict[str, Any] = (
                    {"slack_team_id": "T0001", "slack_user_id": person.slack_id}
                    if on == "slack"
                    else {"teams_aad_id": person.aad_id}
                )
                session.add(
                    Member(email=person.email, display_name=person.name, timezone=person.tz, **ids)
                )
            session.commit()

    def open_survey(self, survey: surveys.Survey, *, period: str = "chat-1") -> int:
        """Open a round of `survey` now, as the scheduler does when it falls due."""
        now = self.now()
        opened = self.runtime.run_sync(
            lambda s: surveys.open_round(survey, session=s, now=now, period=period)
        )
        assert isinstance(opened, surveys.Opened), opened
        self.runtime.poke()
        return opened.round_id

    def close_survey(self, round_id: int) -> None:
        """Close the round now, as the scheduler does when its time is up."""
        now = self.now()
        closed = self.runtime.run_sync(lambda s: surveys.close_round(round_id, session=s, now=now))
        assert closed is not None, f"round {round_id} was already closed"
        self.runtime.poke()

    def give(self, event: KudosRequested) -> kudos.KudosResult:
        """A kudos through the real use case in the running app, as an adapter gives it (for
        what no one can type: past the 4,000 characters a command takes)."""
        runtime = self.runtime
        result: kudos.KudosResult = runtime.run_sync(
            lambda s: kudos.give(
                event, session=s, policy=runtime.policy, clock=runtime.clock, rules=runtime.rules
            )
        )
        runtime.poke()
        return result

    def now(self) -> datetime:
        moment: datetime = self.runtime.clock.now()
        return moment

"""People's words in Slack, escaped exactly once: command text arrives escaped and is stored
as typed, a form's text arrives as typed, everything goes back to Slack escaped once, and no
word a person typed pings a channel or becomes a link."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from storage.models import Member, Recognition
from tests.fakes.slack_api import Call, FakeSlack, broadcasts, refusal
from tests.harness import TOKEN, Server, eventually, payload
from tests.transcript.words import decoded, message_text

# Slack's command text for: `@bob & @carol for the R&D <launch> plan, see [the R&D wiki]
# in #general <!here> @channel #collaboration` (the link and the channel picked from Slack's
# menus, `<!here>` typed out by hand).
COMMAND = payload("slack_command_escaped.json")
TYPED = "for the R&D <launch> plan, see the R&D wiki in #general <!here> <!channel> #collaboration"
# The same words as the quote in the post: escaped once, so they show as typed.
QUOTED = (
    "> for the R&amp;D &lt;launch&gt; plan, see the R&amp;D wiki in #general "
    "&lt;!here&gt; &lt;!channel&gt; #collaboration"
)
BLOCKED = "the Oncozol email for R&D calls it the best treatment"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, team_id="T0001")
    for user, name in (("U0001", "alice"), ("U0002", "bob"), ("U0003", "carol")):
        fake.add_user(user, name, email=f"{name}@example.com")
    with fake:
        yield fake


@pytest.fixture
def server(file_engine: Engine, slack: FakeSlack) -> Iterator[Server]:
    running = Server(file_engine, slack_api_url=slack.base_url).start()
    yield running
    running.stop()


def command(server: Server, text: str, trigger: str) -> dict[str, Any]:
    """A signed `/kudos` whose text is `text` exactly as Slack sends it."""
    fields = {k: v for k, v in COMMAND.items() if k not in ("text", "user_id", "trigger_id")}
    response = server.command(text, user_id="U0001", trigger_id=trigger, **fields)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert refusal("chat.postEphemeral", answer) is None  # Slack takes the answer as it is
    return answer


def stored(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [r.text for r in session.exec(select(Recognition).order_by(col(Recognition.id)))]


def mrkdwn(call: Call) -> list[str]:
    """The mrkdwn of a recorded message's blocks."""
    return [b["text"]["text"] for b in decoded(call.args["blocks"]) if b["type"] == "section"]


def posted(slack: FakeSlack, count: int) -> list[Call]:
    """The first `count` messages posted, each one taken by the strict fake, pinging nobody
    beyond its mentions, its mrkdwn `verbatim` (Slack links no bare URL or channel name)."""
    calls = slack.wait_for("chat.postMessage", count)
    for call in calls:
        assert refusal(call.method, call.args) is None
        assert broadcasts(call.args) == [], call.args
        blocks = decoded(call.args["blocks"])
        texts = [b["text"] for b in blocks if "text" in b]
        texts += [e for b in blocks for e in b.get("elements") or [] if e["type"] == "mrkdwn"]
        assert texts and all(t["verbatim"] is True for t in texts), blocks
    return calls


def test_a_command_escaped_by_slack_is_stored_as_typed_and_sent_back_escaped_once(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    answer = command(server, COMMAND["text"], COMMAND["trigger_id"])

    assert "Kudos recorded for bob, carol" in answer["text"]
    assert stored(file_engine) == [TYPED]
    calls = posted(slack, 3)
    public = next(c for c in calls if c.args["channel"] == "C0KUDOS")
    assert mrkdwn(public)[1] == QUOTED
    wire = json.dumps([c.args for c in calls])
    assert "R&amp;D" in wire and "&amp;amp;" not in wire and "R&D" not in wire
    assert "wiki.example" not in wire  # a link's label is kept, its target is not
    for call in calls:
        assert "for the R&D <launch> plan" in message_text(call.args)  # as people see it


def test_a_forms_text_is_not_escaped_by_slack_so_it_is_stored_exactly_as_sent(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    submission = payload("slack_view_submission_unescaped.json")
    typed = submission["view"]["state"]["values"]["message"]["text"]["value"]

    assert server.interaction(submission).status_code == 200

    assert stored(file_engine) == [f"{typed} #site-activation"]
    public = next(c for c in posted(slack, 2) if c.args["channel"] == "C0KUDOS")
    # `&amp;` typed in the form shows as `&amp;`: escaped once, it is `&amp;amp;` on the wire.
    assert mrkdwn(public)[1] == (
        "> for the R&amp;D &lt;launch&gt; plan @here, and for fixing the &amp;amp; entities "
        "in the email template #site-activation"
    )


def test_the_answer_to_a_form_is_escaped_once(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    submission = payload("slack_view_submission_unescaped.json")
    submission["view"]["state"]["values"]["message"]["text"]["value"] = BLOCKED

    assert server.interaction(submission).status_code == 200

    [notice] = posted(slack, 1)  # a DM: the form was opened outside a channel
    assert refusal(notice.method, notice.args) is None
    shown = "\n".join(mrkdwn(notice))
    assert "This kudos was not posted" in shown
    assert "R&amp;D" in shown and "&amp;amp;" not in shown
    assert "for R&D calls it" in message_text(notice.args)


def test_leaderboard_words_are_read_as_typed(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    command(server, "<@U0002|bob> for the launch checklist #site-activation", "lb-1")
    posted(slack, 2)
    with Session(file_engine) as session:
        bob = session.exec(select(Member).where(Member.slack_user_id == "U0002")).one()
        bob.team = "R&D"
        session.add(bob)
        session.commit()

    team = command(server, "leaderboard team R&amp;D", "lb-2")
    assert "(team R&amp;D)" in team["text"] and "&amp;amp;" not in json.dumps(team)
    assert "1. <@U0002>: 1" in team["text"]
    # Slack turns `#site-activation` into a channel link when such a channel exists.
    valued = command(server, "leaderboard <#C0SITE|site-activation>", "lb-3")
    assert "value #site-activation" in valued["text"] and "1. <@U0002>: 1" in valued["text"]


def test_a_commands_length_is_counted_as_typed_not_as_escaped(
    server: Server, file_engine: Engine
) -> None:
    typed = "for R&D & QA & ops, " * 170  # 3,400 characters typed; 5,440 as Slack sends them
    escaped = typed.replace("&", "&amp;")
    assert len(typed) < 4000 < len(escaped)

    answer = command(server, f"<@U0002|bob> {escaped.strip()}", "long-1")

    assert "too long" not in answer["text"]
    eventually(lambda: stored(file_engine) == [typed.strip()])

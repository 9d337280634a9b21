"""The verbs of Plaudit's Adaptive Cards (`Action.Execute`, or `Action.Submit` from older
clients): give kudos from the form, edit a blocked kudos, ask for or decide a review,
answer a survey. Each verb is one method in a registry; the answer is the card that
replaces the one pressed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from sqlmodel import Session

from bot.chat import screening
from bot.observability import metrics
from bot.runtime import Runtime
from bot.teams import activity as parsed
from bot.teams import answers, forms, people
from bot.teams import home as teams_home
from bot.teams import render as teams_render
from bot.teams.turn import Turn
from handlers import kudos, retraction, review, surveys
from handlers.events import KudosRequested, Person
from handlers.i18n import N_, _

log = logging.getLogger("plaudit.teams")
MAX_TEXT = 4000
OUT_OF_DATE = N_("That card is out of date; please start again.")

Verb = Callable[["Cards", Turn, Person, dict[str, Any]], Awaitable[dict[str, Any]]]


class Cards:
    """Runs a card's verb for the person who pressed it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def act(
        self,
        turn: Turn,
        data: dict[str, Any],
        *,
        person: Person | None = None,
    ) -> dict[str, Any]:
        """The card that answers `data` pressed by `person` (the turn's sender by default)."""
        verb = VERBS.get(str(data.get("verb") or ""))
        if verb is None:
            log.info("unknown card verb %r in activity %s", data.get("verb"), turn.id)
            return teams_render.decided_card(_(OUT_OF_DATE))
        person = person or await people.sender(self.runtime, turn)
        return await verb(self, turn, person, data)

    async def open_form(self, turn: Turn, giver: Person, data: dict[str, Any]) -> dict[str, Any]:
        """The kudos form, for the Give kudos button of `@Plaudit me`'s card."""
        return forms.kudos_form(self.runtime.policy)

    async def give(self, turn: Turn, giver: Person, data: dict[str, Any]) -> dict[str, Any]:
        """The kudos form. The card that answers an Action.Execute is shown to the giver
        alone, so findings can go there even in a channel."""
        return (await self.give_kudos(turn, giver, data))[1]

    async def give_kudos(
        self, turn: Turn, giver: Person, data: dict[str, Any], *, dialog: bool = False
    ) -> tuple[kudos.KudosResult | None, dict[str, Any]]:
        """The kudos a sent form asks for, and the card that answers it: the giver's answer,
        or the form again (`dialog`: for a message extension's dialog) saying why not; the
        result is None when the form was refused before the use case (too long)."""
        policy, runtime = self.runtime.policy, self.runtime
        chosen = tuple(
            dict.fromkeys(p.strip() for p in str(data.get("recipients") or "").split(",") if p)
        )
        typed = str(data.get("people") or "").strip()
        value = str(data.get("value") or "").strip() or None
        text = str(data.get("message") or "").strip()
        hidden = str(data.get("private") or "").lower() == "true"
        link = teams_render.message_link(data.get("link"))
        again = partial(
            forms.kudos_form,
            policy,
            recipients=chosen,
            typed=typed,
            private=hidden,
            link=link,
            dialog=dialog,
        )
        if len(text) > MAX_TEXT:
            key = f"teams:{turn.conv.row}:{turn.id}"
            note = await screening.screen(runtime, text, key=key, reporter=giver)
            return None, again(message=text[:MAX_TEXT], error=_("Please keep it shorter.") + note)
        event = KudosRequested(
            key=f"teams:{turn.conv.row}:{turn.id}",
            giver=giver,
            recipients=await self._recipients(turn, chosen, typed),
            message=f"{text} {value}".strip() if value else text,
            values=(value,) if value else (),
            source="modal",
            channel_id=None if turn.conv.kind == "personal" else turn.conv.channel,
            private=hidden,
            link=link,
        )
        result = await runtime.run(
            lambda session: kudos.give(
                event, session=session, policy=policy, clock=runtime.clock, rules=runtime.rules
            )
        )
        metrics.count_kudos(result)
        runtime.poke()
        if isinstance(result, kudos.Refused):
            return result, again(message=text, value=value, error=result.message)
        return result, answers.answer_card(result)

    async def _recipients(
        self, turn: Turn, chosen: tuple[str, ...], typed: str
    ) -> tuple[Person, ...]:
        """The people picked (AAD object ids) and typed (emails or names, where a client has
        no picker); what names no one Plaudit knows in Teams is a person who does not exist,
        which the use case refuses by name."""
        conv = turn.conv
        found = await people.accounts(self.runtime, turn, list(chosen), by_aad=True)
        picked = [
            parsed.person(found[a], conv.tenant_id, served=self.runtime.teams_tenants)
            if a in found
            else Person("teams", conv.tenant_id, a, a, exists=False)
            for a in chosen
        ]
        named = await people.typed(self.runtime, forms.typed_people(typed), conv.tenant_id)
        unique = {p.user_id: p for p in [*picked, *named]}
        return tuple(unique.values())

    async def edit(self, turn: Turn, giver: Person, data: dict[str, Any]) -> dict[str, Any]:
        """A blocked kudos back in the form, with its recipients and the suggested rewrite."""
        number = parsed.number(data.get("recognition_id"))
        if number is None:
            return teams_render.decided_card(_(OUT_OF_DATE))
        draft = await self.runtime.run(lambda s: kudos.draft(number, giver, session=s))
        if draft is None:
            return teams_render.decided_card(_("That kudos is not yours to edit."))
        return forms.kudos_form(
            self.runtime.policy,
            # AAD object ids: the people picker's values.
            recipients=tuple(p.user_id for p in draft.recipients),
            message=draft.text,
            value=draft.value,
            private=draft.private,
        )

    async def retract(self, turn: Turn, who: Person, data: dict[str, Any]) -> dict[str, Any]:
        """The "Take back" button under a recorded kudos: its giver (for a while) or an admin."""
        number = parsed.number(data.get("recognition_id"))
        if number is None:
            return teams_render.decided_card(_(OUT_OF_DATE))
        runtime = self.runtime
        result = await runtime.run(
            lambda s: retraction.retract(
                number, who, session=s, policy=runtime.policy, clock=runtime.clock
            )
        )
        runtime.poke()
        if isinstance(result, retraction.NotRetracted):
            return teams_render.decided_card(result.message)
        return teams_render.decided_card(
            _(
                "Kudos #{number} taken back: its points are returned and its posts and "
                "messages are being removed.",
                number=number,
            )
        )

    async def ask_review(self, turn: Turn, giver: Person, data: dict[str, Any]) -> dict[str, Any]:
        number = parsed.number(data.get("recognition_id"))
        if number is None:
            return teams_render.decided_card(_(OUT_OF_DATE))
        policy, now = self.runtime.policy, self.runtime.clock.now()

        def ask(session: Session) -> review.ReviewResult:
            return review.ask(number, giver, session=session, policy=policy, now=now)

        outcome = await self.runtime.run(ask)
        self.runtime.poke()
        if isinstance(outcome, review.NotAllowed):
            return teams_render.decided_card(outcome.message)
        return teams_render.decided_card(
            "⏳ "
            + _(
                "Sent to compliance review (#{number}). You'll hear back here.",
                number=outcome.review_id,
            )
        )

    async def approve(self, turn: Turn, giver: Person, data: dict[str, Any]) -> dict[str, Any]:
        return await self._decide(giver, data, approve=True)

    async def reject(self, turn: Turn, giver: Person, data: dict[str, Any]) -> dict[str, Any]:
        return await self._decide(giver, data, approve=False)

    async def _decide(
        self, giver: Person, data: dict[str, Any], *, approve: bool
    ) -> dict[str, Any]:
        """Decide a review for the person who pressed; the answer replaces their card. A
        refusal changes nothing: a missing reason brings the review card back to fill in."""
        number = parsed.number(data.get("review_id"))
        if number is None:
            return teams_render.decided_card(_(OUT_OF_DATE))
        reason = str(data.get("reason") or "").strip() or None
        policy, now = self.runtime.policy, self.runtime.clock.now()

        def decide(session: Session) -> tuple[review.ReviewResult, dict[str, Any] | None]:
            outcome = review.decide(
                number,
                giver,
                approve=approve,
                reason=reason,
                session=session,
                policy=policy,
                now=now,
            )
            again = isinstance(outcome, review.NotAllowed) and outcome.code == review.NEEDS_REASON
            found = review.request(session, number) if again else None
            return outcome, teams_render.review_request(found) if found else None

        outcome, again = await self.runtime.run(decide)
        self.runtime.poke()
        if isinstance(outcome, review.NotAllowed):
            if again is None:
                return teams_render.decided_card(outcome.message)
            return teams_render.noted(again["attachments"][0]["content"], outcome.message)
        if approve:
            said = _(
                "Review #{number} approved by {name}.",
                number=outcome.review_id,
                name=giver.display_name,
            )
        else:
            said = _(
                "Review #{number} rejected: {reason} by {name}.",
                number=outcome.review_id,
                reason=reason,
                name=giver.display_name,
            )
        return teams_render.decided_card(said)

    async def answer_survey(
        self, turn: Turn, person: Person, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Record every answered question of a survey card; the card comes back with the
        answers as saved (and why any was not)."""
        round_id = parsed.number(data.get("round_id"))
        if round_id is None:
            return teams_render.decided_card(_("That survey card is out of date."))
        runtime = self.runtime
        now = runtime.clock.now()

        def work(session: Session) -> tuple[dict[str, Any] | None, list[str], bool]:
            return _record_answers(session, runtime, person, round_id, data, now=now)

        current, problems, closed = await runtime.run(work)
        runtime.poke()
        if current is None:
            return teams_render.decided_card(problems[0])
        note = " ".join(problems) if problems else "✅ " + _("Thank you: your answers are saved.")
        return teams_render.survey_card(current, note=note, closed=closed)


def _record_answers(
    session: Session,
    runtime: Runtime,
    person: Person,
    round_id: int,
    data: dict[str, Any],
    *,
    now: Any,
) -> tuple[dict[str, Any] | None, list[str], bool]:
    """(the invitation as now answered, what went wrong, whether the round is closed)."""
    current = surveys.invite_for(session, round_id, person, secret=runtime.survey_secret)
    if current is None:
        return None, [_("This survey was not sent to you, so it cannot be answered.")], False
    problems: list[str] = []
    saved = 0
    indexed = data.get(teams_render.CHOICES) == teams_render.BY_INDEX
    for q in current["questions"]:
        raw = str(data.get(f"q_{q['id']}") or "").strip()
        if not raw:
            continue
        event = surveys.SurveyAnswered(
            person=person,
            round_id=round_id,
            question_id=str(q["id"]),
            score=parsed.number(raw) if q["type"] in ("scale", "enps") else None,
            choices=forms.chosen(raw, [str(o) for o in q.get("options") or ()], by_index=indexed)
            if q["type"] == "choice"
            else (),
            text=raw if q["type"] == "text" else None,
        )
        outcome = surveys.answer(
            event,
            session=session,
            now=now,
            rules=runtime.rules,
            policy=runtime.policy,
            secret=runtime.survey_secret,
        )
        if isinstance(outcome, surveys.AnswerRefused):
            if outcome.reason == "closed":
                return current, [outcome.message.replace("*", "")], True
            # i18n: a survey question, and why its answer was not saved
            problems.append(_("{question}: {problem}", question=q["text"], problem=outcome.message))
            continue
        saved += 1
        current = outcome.invite
        if outcome.note:
            problems.append(outcome.note)
    if not saved and not problems:
        problems.append(_("Please answer at least one question."))
    return current, problems, False


VERBS: dict[str, Verb] = {
    teams_home.OPEN_FORM: Cards.open_form,
    teams_render.GIVE: Cards.give,
    teams_render.EDIT: Cards.edit,
    teams_render.ASK_REVIEW: Cards.ask_review,
    teams_render.APPROVE: Cards.approve,
    teams_render.REJECT: Cards.reject,
    teams_render.SURVEY_ANSWER: Cards.answer_survey,
    teams_render.RETRACT: Cards.retract,
}

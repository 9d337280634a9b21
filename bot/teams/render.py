"""What Plaudit says in Teams: Adaptive Cards and markdown, rendered from the outbox
payloads and the neutral texts of `bot.chat.texts` (never from Slack's markup). People's
words and names are made inert (shown as typed, never turned into links, emphasis or
mentions), and so are Plaudit's own translated sentences; only Plaudit's own spans become
markup. A private message is in its addressee's language, a channel post in the organisation's.

A multi-select `Input.ChoiceSet` comes back as its chosen values joined with commas, so a
survey option's value is its index, never its words (which may hold a comma).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bot.chat import results, texts
from handlers import i18n
from handlers.i18n import N_, _
from handlers.messages import Template, renderer

CARD = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.4"
GIVE = "kudos.give"
EDIT = "kudos.edit"
RETRACT = "kudos.retract"
ASK_REVIEW = "review.ask"
APPROVE = "review.approve"
REJECT = "review.reject"
SURVEY_ANSWER = "survey.answer"
# People's words go in TextBlocks of at most this many characters, so that a card too big for
# Teams can go on in a further message (`bot.teams.send`) without cutting a word.
PIECE = 4000
# The action data of survey cards whose choice values are option indices; cards sent
# before carry no such key and send the options' words.
CHOICES = "choices"
BY_INDEX = "index"
# What turns words into markup in Teams markdown (cards and messages alike, both CommonMark):
# emphasis, links and images, HTML and autolinks, and the backslash itself.
_MARKUP = re.compile(r"[\\*_\[\]<>]")
# A piece of text is never cut between a backslash and the character it escapes.
ESCAPE = r"\\."
# What a mention's text may not hold: it ends the `<at>` tag or reads as markup inside it.
_LINK = re.compile(r"https://[^\s()<>\[\]\\]{1,1500}")
_NOT_IN_MENTION = re.compile(r"[\\*_\[\]<>]+")
_SLOT = re.compile(r"\{(\w+)\}")


def inert(text: str) -> str:
    """Someone's words as Teams markdown that shows them exactly as typed."""
    return _MARKUP.sub(lambda m: "\\" + m.group(0), text)


def marked(sentence: str, /, **parts: str) -> str:
    """A sentence of Plaudit's (translated, its `{slots}` unfilled) as Teams markdown: its
    words inert, each slot replaced by `parts[slot]`, markdown already (a mention, a name
    made inert)."""
    pieces = _SLOT.split(sentence)  # words, slot, words, slot, ..., words
    return "".join(parts[p] if odd % 2 else inert(p) for odd, p in enumerate(pieces))


def mention_text(name: str) -> str:
    """A name as the text of an `<at>` mention: without the characters that could end the
    tag or make markup of it (the mention's entity keeps the name whole)."""
    return " ".join(_NOT_IN_MENTION.sub(" ", name).split()) or "someone"


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {
        "$schema": SCHEMA,
        "type": "AdaptiveCard",
        "version": VERSION,
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return content


def attachment(content: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": CARD, "content": content}


def text(markdown: str, **extra: Any) -> dict[str, Any]:
    """A TextBlock of Teams markdown (people's words in it already made inert)."""
    return {"type": "TextBlock", "text": markdown, "wrap": True, **extra}


def texts_of(markdown: str, **extra: Any) -> list[dict[str, Any]]:
    """Long markdown as TextBlocks of at most `PIECE` characters, never cut in an escape."""
    return [text(piece, **extra) for piece in texts.pieces(markdown, PIECE, whole=ESCAPE)]


def execute(title: str, verb: str, data: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """An Action.Execute (Universal Actions); clients without it fall back to Action.Submit."""
    payload = {"verb": verb, **data}
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": payload,
        "fallback": {"type": "Action.Submit", "title": title, "data": payload},
        **extra,
    }


def spans(items: Iterable[texts.Span]) -> str:
    """Neutral spans as Teams markdown: words and names inert, Plaudit's own emphasis, links
    and code as markup."""
    out: list[str] = []
    for span in items:
        if isinstance(span, texts.Words):
            out.append(inert(span.text))
        elif isinstance(span, texts.Strong):
            out.append(f"**{inert(span.text)}**")
        elif isinstance(span, texts.Name):
            out.append(inert(span.name))
        elif isinstance(span, texts.Link):
            out.append(f"[{inert(span.label)}]({span.url})")
        elif isinstance(span, texts.Icon):
            out.append(texts.ICONS.get(span.name, ""))
        else:
            out.append(f"`{span.text}`")
    return "".join(out)


def _block_md(block: texts.Block) -> str:
    if isinstance(block, texts.Para):
        # Teams markdown needs a blank line for a line break.
        return "\n\n".join(spans(line) for line in block.lines if line)
    if isinstance(block, texts.Quote):
        return f"> {inert(block.text)}"
    if isinstance(block, texts.Pre):
        return f"```\n{block.text}\n```"
    return f"_{spans(block.spans)}_"


def markdown(neutral: texts.Text) -> str:
    """A neutral text as one Teams markdown message."""
    return "\n\n".join(_block_md(block) for block in neutral.blocks)


def text_blocks(neutral: texts.Text) -> list[dict[str, Any]]:
    """A neutral text as Adaptive Card TextBlocks (people's words kept whole)."""
    body: list[dict[str, Any]] = []
    for block in neutral.blocks:
        if isinstance(block, texts.Pre):
            # A card has no preformatted text: the words are made inert instead.
            body += texts_of(inert(block.text), fontType="Monospace")
        elif isinstance(block, texts.Small):
            body.append(text(spans(block.spans), isSubtle=True, size="Small"))
        else:
            body += texts_of(_block_md(block))
    return body


def text_card(neutral: texts.Text) -> dict[str, Any]:
    """A neutral text as a card of its own (an answer of the Teams adapter)."""
    return card(text_blocks(neutral))


def _mention(person: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
    name = str(person.get("name") or "someone")
    aad = person.get("teams_id")
    if not aad:
        return f"**{inert(name)}**", None
    tag = f"<at>{mention_text(name)}</at>"
    return tag, {"type": "mention", "text": tag, "mentioned": {"id": aad, "name": name}}


def kudos_public(data: Mapping[str, Any]) -> dict[str, Any]:
    giver, giver_entity = _mention(data["giver"])
    tags: list[str] = []
    entities = [e for e in (giver_entity,) if e]
    for person in data["recipients"]:
        tag, entity = _mention(person)
        tags.append(tag)
        if entity:
            entities.append(entity)
    who = i18n.joined(tags)
    if data.get("source") == "reaction":
        head = "👏 " + marked(
            _("{giver} recognised {people} with a reaction"), giver=giver, people=who
        )
    else:
        head = "🎉 " + marked(_("{giver} recognised {people}"), giver=giver, people=who)
    body = [text(head, weight="Bolder", size="Medium")]
    if data.get("message"):
        body += texts_of(inert(str(data["message"])))
    if data.get("values"):
        body.append(text(_values(data["values"]), isSubtle=True))
    body += _for_message(data)
    body.append(text(inert(_("React to this card to second it.")), isSubtle=True, size="Small"))
    content = card(body)
    if entities:
        content["msteams"] = {"entities": entities}
    return {"attachments": [attachment(content)]}


def _for_message(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A link to the message a kudos is for (given from its message action), if any."""
    link = message_link(data.get("permalink"))
    if data.get("source") == "reaction" or link is None:
        return []
    return [text(spans([texts.Link(link, _("The message this is for"))]), isSubtle=True)]


def message_link(value: Any) -> str | None:
    """A link to a message (Teams' `linkToMessage`, Slack's permalink) that a card may show
    as a link (https, nothing that ends markdown's link), else None."""
    link = str(value or "")
    return link if _LINK.fullmatch(link) else None


def _values(values: Iterable[Any]) -> str:
    return inert(" ".join(str(v) for v in values))


ONLY_YOU = N_("Only you see this kudos: it is not posted in any channel.")


def kudos_received(data: Mapping[str, Any]) -> dict[str, Any]:
    giver = inert(str(data["giver"].get("name") or _("A colleague")))
    if data.get("source") == "reaction":
        # A reaction's Teams name (like, heart), not translated.
        emoji = inert(str(data.get("emoji") or "like"))
        # i18n: {emoji} is the reaction's name in Teams (like, heart, laugh)
        seconded = _("{giver} seconded a kudos for you with a {emoji}.")
        return {"text": "👍 " + marked(seconded, giver=giver, emoji=emoji)}
    private = bool(data.get("private"))
    gave = _("{giver} gave you private kudos") if private else _("{giver} gave you kudos")
    body = [text("🎉 " + marked(gave, giver=giver), weight="Bolder")]
    if data.get("message"):
        body += texts_of(inert(str(data["message"])))
    if data.get("values"):
        body.append(text(_values(data["values"]), isSubtle=True))
    body += _for_message(data)
    if private:
        body.append(text(inert(_(ONLY_YOU)), isSubtle=True))
    return {"attachments": [attachment(card(body))]}


def review_request(data: Mapping[str, Any]) -> dict[str, Any]:
    review_id = data["review_id"]
    held = marked(_("Held for compliance review #{number}"), number=str(review_id))
    body = [
        text("⏳ " + held, weight="Bolder"),
        *texts_of(inert(str(data.get("text") or ""))),
        text(spans(texts.rules(data.get("rules") or [])), isSubtle=True),
        {
            "type": "Input.Text",
            "id": "reason",
            "label": _("Reason (needed to reject)"),
            "isMultiline": True,
            "maxLength": 1000,
        },
    ]
    actions = [
        execute(_("Approve"), APPROVE, {"review_id": review_id}, style="positive"),
        execute(_("Reject"), REJECT, {"review_id": review_id}, style="destructive"),
    ]
    return {"attachments": [attachment(card(body, actions))]}


def decided_card(words: str) -> dict[str, Any]:
    """A card of plain words (which may hold people's names and words)."""
    return card([text(inert(words))])


def noted(shown: dict[str, Any], note: str) -> dict[str, Any]:
    """`shown` again with a note in front of it (why what was pressed changed nothing)."""
    return {**shown, "body": [text(inert(note), color="Attention"), *shown["body"]]}


def survey_card(
    data: Mapping[str, Any], *, note: str | None = None, closed: bool = False
) -> dict[str, Any]:
    """A pulse survey as one card: a input per question, filled with the person's current
    answers, and one Submit (answers can be changed until the round closes)."""
    answers: Mapping[str, Any] = data.get("answers") or {}
    title = str(data["title"])
    # The title is the survey's own (plaudit.yaml), shown as written there.
    head = marked(_("Reminder: {title}"), title=title) if data.get("reminder") else title
    body: list[dict[str, Any]] = [text(head, weight="Bolder", size="Medium")]
    if data.get("intro"):
        body.append(text(str(data["intro"])))
    if data.get("anonymous"):
        anonymous = _(
            "Anonymous: your name is never stored with your answers, and results are only "
            "shown for groups large enough that no one can be singled out."
        )
        body.append(text("🔒 " + inert(anonymous), isSubtle=True, size="Small"))
    if note:
        body.append(text(inert(note), color="Attention"))
    for index, q in enumerate(data["questions"], start=1):
        given = answers.get(str(q["id"]))
        label = f"{index}. {q['text']}"
        if closed:
            shown = ", ".join(given) if isinstance(given, list) else given
            answer = marked(_("Your answer: {answer}"), answer=inert(str(shown or "-")))
            body.append(text(f"**{label}**\n\n{answer}"))
        else:
            body.append(_question_input(q, label, given))
    if closed:
        return card(body)
    closes = str(data.get("closes_at") or "")[:16].replace("T", " ")
    until = _("Open until {closes} UTC; you can change your answers until then.")
    body.append(text(marked(until, closes=closes), isSubtle=True, size="Small"))
    round_data = {"round_id": data["round_id"], CHOICES: BY_INDEX}
    return card(body, [execute(_("Submit"), SURVEY_ANSWER, round_data, style="positive")])


def _question_input(q: Mapping[str, Any], label: str, given: Any) -> dict[str, Any]:
    """One survey question as a card input, filled with the person's current answer."""
    field: dict[str, Any] = {"id": f"q_{q['id']}", "label": label}
    if q["type"] in ("scale", "enps"):
        field |= {
            "type": "Input.ChoiceSet",
            "style": "expanded" if q["type"] == "scale" else "compact",
            "choices": _score_choices(q),
        }
        if isinstance(given, int):
            field["value"] = str(given)
    elif q["type"] == "choice":
        options = [str(o) for o in q["options"]]
        field |= {
            "type": "Input.ChoiceSet",
            "isMultiSelect": bool(q.get("multi")),
            "style": "expanded",
            "choices": [{"title": o, "value": str(i)} for i, o in enumerate(options)],
        }
        if isinstance(given, list) and given:
            field["value"] = ",".join(str(options.index(g)) for g in given if g in options)
    else:
        field |= {"type": "Input.Text", "isMultiline": True, "maxLength": 2000}
        if isinstance(given, str):
            field["value"] = given
    return field


def _score_choices(q: Mapping[str, Any]) -> list[dict[str, str]]:
    """1-5 (or 0-10 for eNPS), the labels shown beside the scores they name."""
    low, high = (0, 10) if q["type"] == "enps" else (1, 5)
    labels = list(q.get("labels") or ())
    if q["type"] == "enps":
        labels = [_("Not at all likely"), _("Extremely likely")]

    def title_of(v: int) -> str:
        if len(labels) == 5:
            return f"{v} {labels[v - 1]}"
        if len(labels) == 2 and v in (low, high):
            return f"{v} {labels[0] if v == low else labels[1]}"
        return str(v)

    return [{"title": title_of(v), "value": str(v)} for v in range(low, high + 1)]


def pv_alert(data: Mapping[str, Any]) -> dict[str, Any]:
    """The drug-safety alert as a card: what happened, the reporter's words whole, the rules."""
    return {"attachments": [attachment(card(text_blocks(texts.pv_alert(data))))]}


def _neutral(build: Callable[[Mapping[str, Any]], texts.Text]) -> Callable[..., dict[str, Any]]:
    def render(data: Mapping[str, Any]) -> dict[str, Any]:
        return {"text": markdown(build(data))}

    return render


RENDERERS: Mapping[Template, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    Template.KUDOS_PUBLIC: kudos_public,
    Template.KUDOS_RECEIVED: kudos_received,
    Template.NOTICE: _neutral(texts.notice),
    Template.ANSWER_CARD: lambda data: {"attachments": [attachment(dict(data["card"]))]},
    Template.REVIEW_REQUEST: review_request,
    Template.PV_ALERT: pv_alert,
    Template.DIGEST_WEEKLY: _neutral(texts.digest),
    Template.MILESTONE_REACHED: _neutral(texts.milestone),
    Template.LEADERBOARD_POST: _neutral(texts.leaderboard),
    Template.SURVEY_INVITE: lambda data: {"attachments": [attachment(survey_card(data))]},
    Template.SURVEY_RESULTS: _neutral(results.survey_results),
}
"""The activity fields (`text`, `attachments`) of each outbox template."""


def locale_of(data: Mapping[str, Any]) -> str:
    """The locale an outbox row is drawn in: its addressee's (a private message carries
    theirs) when Plaudit speaks its language, else the organisation's language (a channel
    post carries none)."""
    found = data.get("locale")
    return found if isinstance(found, str) and i18n.language_of(found) else i18n.default()


def message(template: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an outbox row, in its addressee's language (`locale_of`)."""
    with i18n.speaking(locale_of(data)):
        return renderer(RENDERERS, template, "Teams")(data)

"""Reading Slack's escaped `/kudos` text."""

from __future__ import annotations

from bot.chat.mentions import as_typed, parse

VALUES = ("#site-activation", "#collaboration")


def test_mentions_values_and_message() -> None:
    parsed = parse(
        "<@U0002|bob> <@U0003|carol> for the site activation email #site-activation", VALUES
    )
    assert parsed.user_ids == ("U0002", "U0003")
    assert parsed.message == "for the site activation email #site-activation"
    assert parsed.values == ("#site-activation",)
    assert parsed.groups == ()


def test_inline_mentions_count_and_become_plain_names() -> None:
    parsed = parse("<@U2> thanks for helping <@U3|carol> with the deck", VALUES)
    assert parsed.user_ids == ("U2", "U3")
    assert parsed.message == "thanks for helping @carol with the deck"


def test_a_value_slack_turned_into_a_channel_link_is_still_a_value() -> None:
    parsed = parse("<@U2|bob> <#C9|site-activation> for the launch", VALUES)
    assert parsed.groups == ()
    assert parsed.values == ("#site-activation",)


def test_groups_and_channels_as_recipients_are_reported() -> None:
    assert parse("<!subteam^S1|@marketing> great launch", VALUES).groups == ("@marketing",)
    assert parse("<#C1|general> great launch", VALUES).groups == ("#general",)


def test_links_lose_their_target_and_broadcasts_stay_literal() -> None:
    parsed = parse("<@U2> see <https://evil.example|the doc> <!channel>", VALUES)
    assert "evil.example" not in parsed.message
    assert "the doc" in parsed.message
    assert "<!channel>" in parsed.message  # escaped when rendered, so it pings no one


def test_values_are_case_insensitive_and_unique() -> None:
    parsed = parse("<@U2> for #Collaboration and #collaboration", VALUES)
    assert parsed.values == ("#collaboration",)


def test_escapes_are_undone_once_so_the_message_reads_as_typed() -> None:
    parsed = parse("<@U2|bob> for R&amp;D &lt;launch&gt;, typed as &amp;lt;3 here", VALUES)
    assert parsed.message == "for R&D <launch>, typed as &lt;3 here"


def test_recipients_joined_by_an_escaped_ampersand_are_all_recipients() -> None:
    parsed = parse("<@U2|bob> &amp; <@U3|carol> for the Q&amp;A deck", VALUES)
    assert parsed.user_ids == ("U2", "U3")
    assert parsed.message == "for the Q&A deck"


def test_a_links_escaped_label_and_target_read_as_typed() -> None:
    labelled = parse("<@U2> see <https://wiki.example/?a=1&amp;b=2|the R&amp;D wiki>", VALUES)
    assert labelled.message == "see the R&D wiki"
    bare = parse("<@U2> see <https://wiki.example/?a=1&amp;b=2>", VALUES)
    assert bare.message == "see https://wiki.example/?a=1&b=2"


def test_a_channel_linked_in_the_message_is_words_unless_it_spells_a_value() -> None:
    parsed = parse("<@U2> for the deck in <#C1|general> <#C9|collaboration>", VALUES)
    assert parsed.message == "for the deck in #general #collaboration"
    assert parsed.values == ("#collaboration",)
    typed = parse("<@U2> for the deck #teamwork", VALUES)
    assert typed.values == ("#teamwork",)  # typed, not linked: still a value, and unknown


def test_as_typed_gives_the_whole_text_with_names_for_tokens() -> None:
    text = "leaderboard team R&amp;D <#C9|site-activation> <@U2|bob> <!subteam^S1|@brand> <!here>"
    assert as_typed(text) == "leaderboard team R&D #site-activation @bob @brand <!here>"

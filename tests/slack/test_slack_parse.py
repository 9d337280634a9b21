"""Reading Slack's escaped `/kudos` text."""

from __future__ import annotations

from bot.chat.mentions import parse

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

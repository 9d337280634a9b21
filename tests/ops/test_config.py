"""`plaudit.yaml` and the environment: defaults, and errors that name file, key and problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, load
from bot.settings import Settings
from handlers.retention import Retention


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "plaudit.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    policy = load(tmp_path / "absent.yaml").policy()
    assert policy.daily_allowance == 5
    assert policy.reaction_emoji == ("clap", "raised_hands", "tada")
    assert policy.max_recipients == 10
    assert "#site-activation" in policy.values


def test_values_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "recognition:\n  channel: C0KUDOS1\n  daily_allowance: 3\n  require_value: true\n"
        "  reaction_emoji: [':clap:', star]\ncompliance:\n  safety_channel: C0PV0001\n",
    )
    policy = load(path).policy()
    assert policy.recognition_channel == "C0KUDOS1"
    assert policy.daily_allowance == 3 and policy.require_value
    assert policy.reaction_emoji == ("clap", "star")
    assert policy.safety_channel == "C0PV0001"


SURVEY = """surveys:
  - id: pulse
    title: Weekly pulse
    questions:
      - {id: mood, type: enps, text: "Would you recommend working here?"}
      - {id: frequency, type: choice, text: "How often?", options: [Daily, Weekly]}
    schedule:
      cron: '0 10 * * mon'
      timezone: Europe/Berlin
    open_for: 3d
    results_channel: C0RESULTS
"""


def test_a_survey_definition_is_read(tmp_path: Path) -> None:
    body = SURVEY.replace("open_for: 3d", "open_for: 2d\n    reminders: {after: 1d, max: 2}")
    (survey,) = load(write(tmp_path, body)).survey_definitions()
    assert survey.id == "pulse" and survey.anonymous and survey.min_responses == 5
    assert survey.schedule.cron == "0 10 * * mon" and survey.schedule.timezone == "Europe/Berlin"
    assert survey.open_for.days == 2 and survey.remind_after is not None
    assert survey.remind_after.days == 1 and survey.max_reminders == 2
    assert [q.type for q in survey.questions] == ["enps", "choice"]


def test_a_local_schedule_is_read(tmp_path: Path) -> None:
    body = SURVEY.replace("cron: '0 10 * * mon'\n      timezone: Europe/Berlin", "local: Tue 09:30")
    (survey,) = load(write(tmp_path, body)).survey_definitions()
    assert survey.schedule.local_day == 1
    assert survey.schedule.local_time is not None
    assert survey.schedule.local_time.strftime("%H:%M") == "09:30"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "recognition:\n  daily_allowance: 0\n",
            "recognition.daily_allowance: Input should be greater",
        ),
        ("recognition:\n  colour: red\n", "recognition.colour: unknown key"),
        ("recognition:\n  channel: general\n", "recognition.channel: use the channel id"),
        (
            "recognition:\n  values: ['site activation']\n",
            "recognition.values: 'site activation' must look like",
        ),
        ("recognition: [\n", "line 2, column 1: invalid YAML"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("leaderboards: []\n", "leaderboards: unknown key"),
        ("sprints:\n  timezone: Moon/Base\n", "sprints.timezone: unknown timezone"),
        (
            "milestones:\n  - {id: m1, title: T, source: orders, threshold: live,\n"
            "     award: {points: 1, team: A}}\n",
            "milestones.0: a orders milestone takes threshold orders or revenue",
        ),
        (
            "milestones:\n  - {id: m1, title: T, source: promotion, award: {points: 5}}\n",
            "milestones.0: award needs a team or members",
        ),
        (
            SURVEY.replace("cron: '0 10 * * mon'", "cron: '0 25 * * mon'"),
            "surveys.0.schedule: invalid cron expression",
        ),
        (
            SURVEY.replace("timezone: Europe/Berlin", "timezone: Mars/Olympus"),
            "surveys.0.schedule: unknown timezone 'Mars/Olympus'",
        ),
        (
            SURVEY.replace("      timezone: Europe/Berlin\n", ""),
            "surveys.0.schedule: a cron schedule needs an explicit timezone",
        ),
        (
            SURVEY.replace("type: enps", "type: stars"),
            "surveys.0.questions.0.type: Input should be 'scale', 'enps', 'choice' or 'text'",
        ),
        (
            SURVEY.replace("open_for: 3d", "open_for: soon"),
            "'soon' is not a duration",
        ),
        (
            SURVEY.replace("    results_channel: C0RESULTS\n", ""),
            "give a results_channel or owners",
        ),
        (SURVEY.replace("frequency", "mood"), "question ids must be unique"),
        (SURVEY + SURVEY[len("surveys:\n") :], "survey ids must be unique: pulse"),
    ],
)
def test_invalid_settings_name_file_key_and_problem(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_environment_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLAUDIT_PORT", "3999")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    settings = Settings()
    assert settings.port == 3999
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.database_url == "sqlite:///plaudit.db"
    assert not settings.slack_enabled
    assert any("SLACK_BOT_TOKEN" in line for line in settings.status_lines())


def test_a_bad_token_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token")
    with pytest.raises(ValueError, match="xoxb-"):
        Settings()


def test_compliance_packs_registry_and_actions(tmp_path: Path) -> None:
    from compliance_rules import Outcome, check

    registry = tmp_path / "products.yml"
    registry.write_text(
        "company: Test\nproducts:\n  - brand: Zapril\n    generic: zaprilol\n"
        "    approved: adults with gout\n    off_label: ['\\bdogs?\\b']\n",
        encoding="utf-8",
    )
    # The packs, the registry and the actions (the second opinion, which reads "first-line"
    # beside any name as a possible off-label use, is off: the rules are what is tested).
    path = write(
        tmp_path,
        "compliance:\n  packs: [default]\n  products: products.yml\n"
        "  second_opinion: false\n  actions:\n    offensive_language: warn\n",
    )
    rules = load(path).compliance.rules(tmp_path)
    assert check("the Zapril booth idea of treating dogs", rules).outcome is Outcome.HOLD
    assert check("the Oncozol first-line idea", rules).outcome is Outcome.PASS  # not in registry
    assert check("you f***ing nailed it", rules).outcome is Outcome.WARN


def test_unknown_categories_in_actions_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "compliance:\n  actions:\n    rudeness: warn\n")
    with pytest.raises(
        ConfigError, match=r"compliance\.actions: unknown categories \['rudeness'\]"
    ):
        load(path)


def test_a_market_pack_is_switched_on_in_plaudit_yaml(tmp_path: Path) -> None:
    from compliance_rules import Outcome, check

    text = "great billboard campaign of the tablets in Milan"
    default = load(write(tmp_path, "compliance:\n  packs: [default]\n")).compliance.rules(tmp_path)
    assert check(text, default).outcome is Outcome.PASS
    eu = load(write(tmp_path, "compliance:\n  packs: [default, eu]\n")).compliance.rules(tmp_path)
    assert check(text, eu).outcome is Outcome.HOLD  # advertising to the public: EU only
    assert eu.packs[:2] == ("default@1", "eu@1")  # then the other languages' packs
    only = load(write(tmp_path, "compliance:\n  packs: [default, eu]\n  languages: []\n"))
    assert only.compliance.rules(tmp_path).packs == ("default@1", "eu@1", "safety@1")


ROOT = Path(__file__).resolve().parents[2]


def test_the_second_opinion_is_on_unless_plaudit_yaml_turns_it_off(tmp_path: Path) -> None:
    from compliance_rules import Outcome, check

    # A disparaging kudos the rules pass and the model reads as one (held, not blocked).
    text = (
        "Kudos to Petra for the battle card: Duravia is a failed drug and its makers hide the data."
    )
    held = load(write(tmp_path, "compliance:\n  languages: []\n")).compliance.rules(tmp_path)
    assert held.second_opinion
    assert check(text, held).outcome is Outcome.HOLD
    off = "compliance:\n  languages: []\n  second_opinion: false\n"
    rules = load(write(tmp_path, off)).compliance.rules(tmp_path)
    assert not rules.second_opinion
    assert check(text, rules).outcome is Outcome.PASS
    with pytest.raises(ConfigError, match=r"compliance\.second_opinion"):
        load(write(tmp_path, "compliance:\n  second_opinion: maybe\n"))


def test_the_readme_example_and_the_example_file_load(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    org = load(write(tmp_path, block))
    assert org.policy().safety_channel == "C0SAFETY1"
    (survey,) = org.survey_definitions()
    assert survey.schedule.local_time is not None and survey.max_reminders == 1
    example = (ROOT / "plaudit.example.yaml").read_text(encoding="utf-8")
    assert load(write(tmp_path, example)).policy().daily_allowance == 5
    # The commented survey and retention in the example file are valid once uncommented.
    uncommented = "\n".join(
        line.replace("# ", "", 1)
        if line.startswith("# ") and line[2:3] in ("s", "r", " ")
        else line
        for line in example.splitlines()
        if not line.startswith("# Pulse")
    )
    org = load(write(tmp_path, uncommented))
    assert [s.id for s in org.survey_definitions()] == ["weekly-pulse"]
    assert org.retention.retention() == Retention(180, 730, 365)
    rollout = org.policy().rollout
    assert rollout is not None and [c.mode for c in rollout.cohorts] == ["on", "control"]


def test_quiet_periods_are_read_into_the_policy(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "compliance:\n  quiet_periods:\n"
        "    - name: Q4 earnings\n      from: 2026-12-15\n      to: 2027-01-28\n"
        "    - {name: Oncozol launch, from: 2026-11-01, to: 2026-12-31, products: [Oncozol],\n"
        "       reason: Embargoed until the press release.}\n",
    )
    earnings, launch = load(path).policy().quiet_periods
    assert earnings.name == "Q4 earnings" and earnings.about_results and earnings.products == ()
    assert str(earnings.start) == "2026-12-15" and str(earnings.end) == "2027-01-28"
    assert launch.products == ("Oncozol",) and not launch.about_results
    assert launch.reason == "Embargoed until the press release."


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("{name: Q, from: 2026-12-15, to: 2026-12-01}", "ends (2026-12-01) before it starts"),
        ("{name: Q, from: 2026-12-01, to: 2026-12-02, financial: false}", "holds nothing"),
        ("{name: Q, from: 15/12/2026, to: 2026-12-20}", "compliance.quiet_periods.0.from"),
        ("{name: Q, from: 2026-12-01, to: 2026-12-02, product: [Oncozol]}", "unknown key"),
    ],
)
def test_a_bad_quiet_period_is_named(tmp_path: Path, entry: str, expected: str) -> None:
    path = write(tmp_path, f"compliance:\n  quiet_periods:\n    - {entry}\n")
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load(path)


def test_the_organisation_language_is_read_and_an_unknown_one_named(tmp_path: Path) -> None:
    assert load(tmp_path / "absent.yaml").language == "en"
    assert load(write(tmp_path, "language: ja\n")).language == "ja"
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, "language: pt\n"))
    assert "language" in str(info.value)

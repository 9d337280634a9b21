"""The catalogues: every sentence in the code has every language, with the same slots."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from handlers import i18n

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = [lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE]
KEYWORDS = {"_": None, "n_": (1, 2), "N_": None}
LIMIT = re.compile(r"at most (\d+) characters")


def _in_code() -> dict[str | tuple[str, str], list[str]]:
    """Every message id the code marks (as `make messages` extracts them), with its
    translator comments."""
    found: dict[str | tuple[str, str], list[str]] = {}
    for folder in ("bot", "handlers"):
        for _file, _line, message, comments, _context in extract_from_dir(
            ROOT / folder, keywords=KEYWORDS, comment_tags=("i18n:",), strip_comment_tags=True
        ):
            key = message if isinstance(message, str) else (message[0], message[1])
            found.setdefault(key, []).extend(comments)
    return found


CODE = _in_code()


def _catalogue(language: str) -> Catalog:
    with (i18n.LOCALES / f"{language}.po").open("rb") as handle:
        return read_po(handle, locale=language)


def _entries(catalog: Catalog) -> Iterator[Message]:
    yield from (entry for entry in catalog if entry.id)


def _slots(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_the_code_marks_sentences_and_the_template_has_them_all() -> None:
    assert len(CODE) > 100, "the bot's sentences are marked for translation"
    with (i18n.LOCALES / "plaudit.pot").open("rb") as handle:
        template = {e.id if isinstance(e.id, str) else tuple(e.id) for e in read_po(handle) if e.id}
    missing = sorted(map(str, set(CODE) - template))
    stale = sorted(map(str, template - set(CODE)))
    assert not missing and not stale, f"run `make messages`: new {missing[:5]}, gone {stale[:5]}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_sentence_is_translated_with_the_same_slots(language: str) -> None:
    catalog = _catalogue(language)
    entries = {e.id if isinstance(e.id, str) else tuple(e.id): e for e in _entries(catalog)}
    problems: list[str] = []
    for key, comments in CODE.items():
        entry = entries.get(key)
        if entry is None or entry.fuzzy or not entry.string or not all(entry.string):
            problems.append(f"untranslated: {key!r}")
            continue
        if isinstance(key, str):
            forms, wanted = [str(entry.string)], [_slots(key)]
        else:
            forms = [str(s) for s in entry.string]
            # Only the plural id's slots may be dropped by a "one" form ("a point" for {n}).
            wanted = [_slots(key[1]) | _slots(key[0])] * len(forms)
        for form, slots in zip(forms, wanted, strict=True):
            try:
                used = _slots(form)
            except ValueError as exc:  # an unbalanced brace
                problems.append(f"{key!r}: {form!r}: {exc}")
                continue
            if (used != slots) if isinstance(key, str) else not used <= slots:
                problems.append(f"slots differ: {key!r} -> {form!r}")
            limits = [int(m.group(1)) for c in comments for m in LIMIT.finditer(c)]
            if limits and len(form) > min(limits):
                problems.append(f"longer than {min(limits)} characters: {form!r}")
        if isinstance(key, tuple) and not _slots(key[1]) <= _slots(forms[-1]):
            problems.append(f"the last plural form lost a slot: {key!r} -> {forms[-1]!r}")
    assert not problems, f"{language}.po: {len(problems)} problems:\n" + "\n".join(problems[:20])


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_catalogue_holds_no_sentence_the_code_no_longer_has(language: str) -> None:
    extra = [
        e.id
        for e in _entries(_catalogue(language))
        if (e.id if isinstance(e.id, str) else tuple(e.id)) not in CODE
    ]
    assert not extra, f"{language}.po keeps sentences the code dropped: {extra[:5]}"


def test_a_platform_locale_names_the_language_spoken() -> None:
    assert i18n.language_of("de-DE") == "de"
    assert i18n.language_of("ja_JP") == "ja"
    assert i18n.language_of("FR") == "fr"
    assert i18n.language_of("pt-BR") is None
    assert i18n.language_of("") is None


def test_speaking_sets_the_language_and_unknown_ones_fall_back_to_the_default() -> None:
    assert i18n.current() == "en"
    with i18n.speaking("de-AT"):
        assert i18n.current() == "de"
        with i18n.speaking("pt-BR"):
            assert i18n.current() == "en"
        assert i18n.current() == "de"
    assert i18n.current() == "en"


def test_the_organisation_language_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(i18n, "_default", "en")
    i18n.configure("it")
    try:
        assert i18n.current() == "it"
        with i18n.speaking("ja-JP"):
            assert i18n.current() == "ja"
        with i18n.speaking(None):
            assert i18n.current() == "it"
    finally:
        i18n.configure("en")


def test_work_bound_to_a_language_runs_in_it_on_another_thread() -> None:
    import threading

    seen: list[str] = []
    with i18n.speaking("fr-FR"):
        work = i18n.bound(lambda: seen.append(i18n.current()))
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == ["fr"]


def test_plural_forms_follow_each_language_rule(tmp_path: Path) -> None:
    po = tmp_path / "fr.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: fr\\n"\n"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n'
        'msgid "{n} point"\nmsgid_plural "{n} points"\nmsgstr[0] "{n} point (fr)"\n'
        'msgstr[1] "{n} points (fr)"\n\n'
        'msgid "Hello {name}"\nmsgstr "Bonjour {name}"\n\n'
        '#, fuzzy\nmsgid "Unsure"\nmsgstr "Pas sûr"\n',
        encoding="utf-8",
    )
    catalogue = i18n.load(po, "fr")
    assert catalogue.singular == {"Hello {name}": "Bonjour {name}"}  # fuzzy ones stay English
    assert [catalogue.form(n) for n in (0, 1, 2)] == [0, 0, 1]  # French: zero is singular
    assert catalogue.plural["{n} point"] == ("{n} point (fr)", "{n} points (fr)")


def test_english_is_the_code_itself() -> None:
    assert i18n.n_("{n} point", "{n} points", 1) == "1 point"
    assert i18n.n_("{n} point", "{n} points", 3) == "3 points"
    assert i18n._("{first} and {last}", first="A", last="B") == "A and B"
    assert i18n.listed(["A", "B", "C"]) == "A, B and C"

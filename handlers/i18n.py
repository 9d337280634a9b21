"""The language Plaudit speaks to each person: English words in the code, their
translations in gettext catalogues (`handlers/locales/<lang>.po`).

Every sentence a person reads is written `_("You have {left} left today.", left=n)`: the
English is the message id, `{names}` are filled in after translating (so a translation may
move them). `n_()` chooses a plural form by the catalogue's own rule. `N_()` only marks a
constant for `make messages`; it is translated where it is used.

The language is a context variable: the adapter that knows who will read a text (the giver
of a command, the addressee of a message) sets it with `speaking()` around the work, and
`Runtime.run` carries it into the database threads. Outside any `speaking()`, texts are in
the organisation's language (`configure()`), English unless set.
"""

from __future__ import annotations

import gettext
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent / "locales"
SOURCE = "en"  # the code's own language: no catalogue
LANGUAGES = ("en", "de", "fr", "es", "it", "ja")
NAMES = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "it": "Italiano",
    "ja": "日本語",
}

P = ParamSpec("P")
T = TypeVar("T")

_default = SOURCE
_speaking: ContextVar[str | None] = ContextVar("plaudit_language", default=None)


def language_of(locale: str | None) -> str | None:
    """The language Plaudit speaks for a platform's locale ("de-DE", "ja_JP", "fr"), or None
    when it speaks none of that locale's (the caller falls back)."""
    if not locale:
        return None
    code = locale.replace("_", "-").split("-", 1)[0].strip().lower()
    return code if code in LANGUAGES else None


def configure(default: str | None) -> None:
    """The organisation's language: for channel posts and for people whose own is unknown."""
    global _default
    _default = language_of(default) or SOURCE


def default() -> str:
    return _default


def current() -> str:
    return _speaking.get() or _default


@contextmanager
def speaking(locale: str | None) -> Iterator[str]:
    """Texts made inside are in `locale`'s language (the default when it has none here)."""
    language = language_of(locale) or _default
    token = _speaking.set(language)
    try:
        yield language
    finally:
        _speaking.reset(token)


def bound(work: Callable[P, T]) -> Callable[P, T]:
    """`work`, run later (on another thread) in the language spoken now."""
    language = current()

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        token = _speaking.set(language)
        try:
            return work(*args, **kwargs)
        finally:
            _speaking.reset(token)

    return run


def _(message: str, /, **params: object) -> str:
    """`message` in the current language, its `{names}` filled in from `params`."""
    found = _catalogue(current()).singular.get(message) if current() != SOURCE else None
    return (found or message).format(**params) if params else (found or message)


def n_(one: str, many: str, n: int, /, **params: object) -> str:
    """The plural form of the current language for `n` (`{n}` is filled in too)."""
    language = current()
    forms = _catalogue(language).plural.get(one) if language != SOURCE else None
    if forms:
        text = forms[min(_catalogue(language).form(n), len(forms) - 1)]
    else:
        text = one if abs(n) == 1 else many
    return text.format(n=n, **params)


def N_(message: str, /) -> str:
    """Marks `message` for the catalogues; translate it with `_()` where it is shown."""
    return message


def joined(items: Iterable[str]) -> str:
    """'A, B, C': items one after another, as the current language separates them."""
    return _(", ").join(items)


def listed(items: list[str]) -> str:
    """'A', 'A and B', 'A, B and C' in the current language."""
    if len(items) <= 1:
        return "".join(items)
    return _("{first} and {last}", first=joined(items[:-1]), last=items[-1])


@dataclass(frozen=True)
class Catalogue:
    singular: dict[str, str]
    plural: dict[str, tuple[str, ...]]
    form: Callable[[int], int]


_loaded: dict[str, Catalogue] = {}
_loading = threading.Lock()


def _catalogue(language: str) -> Catalogue:
    found = _loaded.get(language)
    if found is None:
        with _loading:
            found = _loaded.get(language) or load(LOCALES / f"{language}.po", language)
            _loaded[language] = found
    return found


def load(path: Path, language: str) -> Catalogue:
    """A catalogue's translated, settled entries (fuzzy and empty ones are left to English)."""
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    singular: dict[str, str] = {}
    plural: dict[str, tuple[str, ...]] = {}
    for entry in catalog:
        if not entry.id or entry.fuzzy:
            continue
        if isinstance(entry.id, (tuple, list)):
            strings = tuple(str(s) for s in entry.string or ())
            if strings and all(strings):
                plural[str(entry.id[0])] = strings
        elif entry.string:
            singular[str(entry.id)] = str(entry.string)
    return Catalogue(singular, plural, gettext.c2py(catalog.plural_expr))

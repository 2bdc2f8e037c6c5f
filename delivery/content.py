"""Rendering templates and matching the platform's filter keywords."""

import threading
from dataclasses import dataclass

import ahocorasick

from delivery.models import PLACEHOLDER_RE
from delivery.selectors import keyword_filter_version, keyword_filter_words
from smsconsole.text import normalize_for_matching


@dataclass(frozen=True)
class Rendered:
    content: str
    missing: tuple[str, ...]


def render(body: str, variables: dict) -> Rendered:
    """Substitute {{name}} placeholders. A missing or empty value leaves the placeholder in place."""
    missing: list[str] = []

    def substitute(match):
        name = match.group(1)
        value = variables.get(name)
        if value is None or value == "":
            if name not in missing:
                missing.append(name)
            return match.group(0)
        return str(value)

    return Rendered(content=PLACEHOLDER_RE.sub(substitute, body), missing=tuple(missing))


class KeywordMatcher:
    """Finds any of many keywords in one pass (Aho-Corasick), after NFKC and case folding."""

    def __init__(self, keywords):
        self._automaton = ahocorasick.Automaton()
        self.size = 0
        for keyword in keywords:
            normalized = normalize_for_matching(keyword).strip()
            if normalized:
                self._automaton.add_word(normalized, keyword)
                self.size += 1
        if self.size:
            self._automaton.make_automaton()

    def first_match(self, text: str) -> str | None:
        if not self.size:
            return None
        for _end, keyword in self._automaton.iter(normalize_for_matching(text)):
            return keyword
        return None


_cache_lock = threading.Lock()
_cached: tuple[object, KeywordMatcher] | None = None


def keyword_matcher() -> KeywordMatcher:
    """The matcher for the active filter keywords, rebuilt only when staff changed the list."""
    global _cached
    version = keyword_filter_version()
    with _cache_lock:
        if _cached is None or _cached[0] != version:
            _cached = (version, KeywordMatcher(keyword_filter_words()))
        return _cached[1]

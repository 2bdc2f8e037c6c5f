"""Text normalisation shared by keyword filtering and unsubscribe matching."""

import unicodedata


def normalize_for_matching(text: str) -> str:
    """NFKC then case folding, so full-width ＳＴＯＰ, STOP and stop compare equal."""
    return unicodedata.normalize("NFKC", text).casefold()


def strip_punctuation_and_space(text: str) -> str:
    """Trim punctuation, symbols and white space from both ends ("stop!" → "stop")."""
    start, end = 0, len(text)
    while start < end and _is_trimmable(text[start]):
        start += 1
    while end > start and _is_trimmable(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_trimmable(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in {"P", "S", "Z", "C"} or char.isspace()

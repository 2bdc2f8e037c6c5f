"""How many SMS parts a text takes.

GSM-7 carries 160 septets in one part, 153 per part when concatenated (the rest is the UDH);
extension characters cost two septets and are never split across parts. Anything outside GSM-7
goes as UCS-2: 70 UTF-16 code units in one part, 67 per part, surrogate pairs never split.
"""

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def encoding_of(text: str) -> str:
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def segment_count(text: str) -> int:
    """Number of parts `text` is sent as (0 for empty text)."""
    if not text:
        return 0
    if is_gsm7(text):
        units = [2 if char in GSM7_EXTENSION else 1 for char in text]
        single, multi = GSM7_SINGLE, GSM7_MULTI
    else:
        units = [2 if ord(char) > 0xFFFF else 1 for char in text]
        single, multi = UCS2_SINGLE, UCS2_MULTI
    if sum(units) <= single:
        return 1
    return _parts_needed(units, multi)


def _parts_needed(units: list[int], capacity: int) -> int:
    # Greedy packing, because a two-unit character that does not fit moves whole to the next part.
    parts, used = 1, 0
    for size in units:
        if used + size > capacity:
            parts += 1
            used = 0
        used += size
    return parts

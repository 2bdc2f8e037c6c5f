import pytest

from delivery.segments import encoding_of, segment_count


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 153 * 10, 10),
        ("a" * (153 * 10 + 1), 11),
    ],
)
def test_gsm7_segments(text, expected):
    assert encoding_of(text or "a") == "GSM-7"
    assert segment_count(text) == expected


def test_extension_characters_count_twice():
    assert segment_count("€" * 80) == 1  # 160 septets
    assert segment_count("€" * 81) == 2
    assert segment_count("{" + "a" * 158) == 1
    assert segment_count("{" + "a" * 159) == 2


def test_extension_character_is_not_split_across_parts():
    # 152 plain characters then an escape pair: the pair moves to part two whole.
    text = "a" * 152 + "€" + "a" * 152
    assert segment_count(text) == 3
    assert segment_count("a" * 151 + "€" + "a" * 153) == 2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("こんにちは", 1),
        ("あ" * 70, 1),
        ("あ" * 71, 2),
        ("あ" * 134, 2),
        ("あ" * 135, 3),
        ("Code 1234 です", 1),
    ],
)
def test_japanese_is_ucs2(text, expected):
    assert encoding_of(text) == "UCS-2"
    assert segment_count(text) == expected


def test_one_non_gsm_character_makes_the_whole_text_ucs2():
    assert segment_count("a" * 70) == 1
    assert segment_count("a" * 70 + "✓") == 2


def test_emoji_take_two_code_units_and_are_not_split():
    assert segment_count("😀" * 35) == 1
    assert segment_count("😀" * 36) == 2
    # 134 units would fit two parts of 67, but the pair at units 67-68 cannot straddle them.
    assert segment_count("a" * 66 + "😀" + "a" * 66) == 3

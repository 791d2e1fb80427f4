"""services/common/fastjson.py: msgspec where JSON is handled per event in bulk, the same values as the
standard library's json, and its fallback where msgspec refuses what json takes."""
import json
import math

import pytest

from services.common import fastjson

pytestmark = pytest.mark.unit

VALUES = [
    {"b": 1, "a": "张三 \"quoted\" \\ \n \u2028 \x00", "c": None, "d": [1.5, True, False, {"z": {}, "y": [None]}]},
    {"big": 10 ** 30, "negative": -(2 ** 70), "zero": -0.0, "tiny": 5e-324, "huge": 1e300},
    [], {}, "𠀀 rare", 0, 2 ** 64,
]


@pytest.mark.parametrize("value", VALUES)
def test_what_is_encoded_parses_back_to_the_same_value_as_json_would(value):
    for encoded in (fastjson.dumps(value), fastjson.dumps_sorted(value)):
        assert fastjson.loads(encoded) == value == json.loads(encoded)
        assert fastjson.loads(encoded.decode()) == value
    spaced = json.dumps(value, ensure_ascii=True, sort_keys=True, indent=1)  # what older writers wrote
    assert fastjson.loads(spaced) == json.loads(spaced) == value


def test_integers_of_any_size_stay_integers():
    parsed = fastjson.loads(b'{"n": 123456789012345678901234567890, "m": -18446744073709551617}')
    assert parsed == {"n": 123456789012345678901234567890, "m": -18446744073709551617}
    assert all(type(v) is int for v in parsed.values())


def test_sorted_is_sorted_at_every_level_and_the_same_bytes_for_the_same_value():
    one, other = {"b": {"y": 1, "x": [{"d": 1, "c": 2}]}, "a": 0}, {"a": 0, "b": {"x": [{"c": 2, "d": 1}], "y": 1}}
    assert fastjson.dumps_sorted(one) == fastjson.dumps_sorted(other) == b'{"a":0,"b":{"x":[{"c":2,"d":1}],"y":1}}'
    assert fastjson.dumps_sorted(one) == json.dumps(one, sort_keys=True, separators=(",", ":")).encode()


def test_what_msgspec_refuses_the_standard_library_takes():
    assert fastjson.loads('"\\ud800"') == "\ud800"  # a lone surrogate, as json reads it
    assert math.isinf(fastjson.loads("1e400"))
    assert fastjson.dumps({1: "a"}) == b'{"1":"a"}'
    assert fastjson.dumps_sorted({2: "b", 1: "a"}) == b'{"1":"a","2":"b"}'


@pytest.mark.parametrize("text", [b"", b"{", b"[1,]", b'{"a":1}x', b"\xff"])
def test_what_is_not_json_is_a_value_error(text):
    with pytest.raises(ValueError):
        fastjson.loads(text)
    with pytest.raises(ValueError):
        json.loads(text)

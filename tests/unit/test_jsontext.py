"""The stores' JSON text: orjson where it is exact, the standard library where it is not."""

import datetime
import enum
import json
import math

import pytest

from tasky import jsontext


@pytest.mark.parametrize(
    "value",
    [
        {"message": "hello", "n": 3, "x": 0.1, "ok": True, "none": None, "list": [1, [2]]},
        {"é": "ünïcode", "emoji": "\U0001f600"},
        {"big": 2**70, "negative": -(2**64)},
        {"lone": "\ud800"},
        [1.7976931348623157e308, 5e-324, -0.0],
        "text",
    ],
)
def test_what_is_written_reads_back_the_same(value):
    assert jsontext.loads(jsontext.dumps(value)) == value


def test_integers_beyond_64_bits_read_exactly_not_as_floats():
    # orjson alone reads this as 1.2345678901234568e+29, without an error.
    assert jsontext.loads('{"n": 123456789012345678901234567890}') == {
        "n": 123456789012345678901234567890
    }
    assert jsontext.loads("[-9223372036854775809]") == [-(2**63) - 1]


def test_text_the_standard_library_wrote_reads_as_before():
    for text in ('{"a": NaN, "b": Infinity}', '"\\ud800"', '{"a": 1, "a": 2}', "1e400"):
        got, expected = jsontext.loads(text), json.loads(text)
        assert repr(got) == repr(expected), text


def test_keys_that_are_not_strings_are_written_as_the_standard_library_writes_them():
    assert jsontext.loads(jsontext.dumps({1: "a", None: "b"})) == {"1": "a", "null": "b"}


def test_dates_and_unknown_types_go_to_default():
    class Point:
        def __str__(self):
            return "point"

    when = datetime.datetime(2026, 12, 3, 9, 0)
    text = jsontext.dumps({"when": when, "p": Point(), "s": {1}}, default=str)
    assert jsontext.loads(text) == {"when": str(when), "p": "point", "s": "{1}"}


def test_nan_is_written_as_json_null_and_an_enum_as_its_value():
    class Color(enum.Enum):
        RED = "red"

    assert jsontext.loads(jsontext.dumps([math.nan, math.inf, Color.RED])) == [None, None, "red"]


def test_non_ascii_is_written_as_utf_8():
    assert jsontext.dumps({"é": 1}) == '{"é":1}'

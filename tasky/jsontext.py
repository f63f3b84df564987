"""JSON text as the stores keep it: written and read by orjson where it is exact, by the
standard library where it is not.

A claim reads each task's config, a finish reads it again and writes the output, a submit
writes the config: orjson does each in a fraction of the standard library's time. It is not
exact everywhere. It writes no integer beyond 64 bits and no lone surrogate, and reads no
NaN, no infinity, no lone surrogate: those go to the standard library. It reads a longer
integer as a float, without an error: text with a run of 19 digits (an integer past 2**63
has at least that many) is read by the standard library too.

What orjson writes otherwise is still JSON that reads back the same: dict keys that are
numbers, booleans or null as strings, as the standard library writes them; NaN and
infinities as ``null`` (the standard library writes ``NaN``, which is not JSON, and still
does for a value that goes to it); a plain ``Enum`` member as its value (``default=str``
would give ``"Color.RED"``). Dates and dataclasses go to ``default``, as the standard
library sends them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

LONG_DIGITS = re.compile(r"\d{19}")
OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
"""Keys as the standard library writes them; dates and dataclasses handed to ``default``."""


def loads(text: str) -> Any:
    if LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    try:
        return orjson.dumps(value, default=default, option=OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, default=default)

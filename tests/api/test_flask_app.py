"""Tasky's Flask class: orjson writes the JSON answers by the standard library's rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from flask import jsonify

from tasky.api.flask_app import TaskyFlask


@pytest.fixture
def app() -> TaskyFlask:
    return TaskyFlask(__name__)


def test_keys_sorted_text_compact(app):
    with app.app_context():
        assert app.json.dumps({"b": 1, "a": [1, 2.5, None]}) == '{"a":[1,2.5,null],"b":1}'
        assert jsonify(b="é", a=1).get_data() == '{"a":1,"b":"é"}\n'.encode()


@pytest.mark.parametrize(
    "value",
    [{"big": 2**70, "negative": -(2**64)}, {"lone": "\ud800 and \udfff"}],
    ids=["integers beyond 64 bits", "lone surrogates"],
)
def test_what_orjson_refuses_the_standard_library_writes(app, value):
    with app.app_context():
        assert json.loads(app.json.dumps(value)) == value


def test_dates_as_flask_writes_them(app):
    at = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    with app.app_context():
        assert app.json.dumps({"at": at}) == '{"at":"Wed, 02 Dec 2026 09:30:00 GMT"}'


def test_indented_in_debug_mode_and_other_options_the_standard_librarys(app):
    app.debug = True
    with app.app_context():
        assert jsonify(a=1).get_data() == b'{\n  "a": 1\n}\n'
        assert app.json.dumps({"b": 1, "a": "é"}, sort_keys=False) == '{"b": 1, "a": "\\u00e9"}'


def test_views_and_hooks_run_as_they_are(app):
    def view():
        return "ok"

    assert app.ensure_sync(view) is view

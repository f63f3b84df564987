"""``tasky export`` and ``tasky import`` against a real server: what they print, the files
they write, and their exit codes."""

from __future__ import annotations

import json

import pytest

from tests.backup.helpers import tasky

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_export_to_standard_output_and_back_with_a_bad_line(server_factory, tmp_path):
    server = server_factory(1, {"TASKY_RUNNER": "off"})
    ids = [server.submit("echo", {"delay": 600}) for _ in range(3)]
    done = tasky(server, "export")
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    assert json.loads(header)["counts"]["tasks"] == 3
    assert {json.loads(line)["id"] for line in lines} == set(ids)

    broken = tmp_path / "broken.ndjson"
    broken.write_bytes(b"\n".join([header, lines[0], b"{oops", *lines[1:]]) + b"\n")
    (tmp_path / "empty").mkdir()
    other = server_factory(1, {"TASKY_RUNNER": "off"}, data=tmp_path / "empty")
    done = tasky(other, "import", str(broken))
    assert done.returncode == 3  # some lines were refused
    assert b"imported 0 schedules, 3 tasks" in done.stdout
    assert done.stderr.decode().strip() == "line 3: not a JSON object"


def test_export_writes_its_file_whole_or_not_at_all(server_factory, tmp_path):
    server = server_factory(1, {"TASKY_RUNNER": "off", "TASKY_API_TOKEN": "s3cret"})
    target = tmp_path / "backup.ndjson"
    refused = tasky(server, "export", "-o", str(target))
    assert refused.returncode == 4 and not target.exists()  # 401
    assert not (tmp_path / "backup.ndjson.partial").exists()
    done = tasky(server, "--token", "s3cret", "export", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert json.loads(target.read_bytes().splitlines()[0])["kind"] == "tasky-export"


def test_a_body_that_is_no_export_exits_3(server_factory, tmp_path):
    server = server_factory(1, {"TASKY_RUNNER": "off"})
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    done = tasky(server, "import", str(junk))
    assert done.returncode == 3
    assert b"not a Tasky export" in done.stderr and b"(400)" in done.stderr


def test_an_unreachable_server_exits_5(tmp_path):
    class Nowhere:
        url = "http://127.0.0.1:9"

    done = tasky(Nowhere(), "export", "-o", str(tmp_path / "x"))
    assert done.returncode == 5 and b"no answer" in done.stderr

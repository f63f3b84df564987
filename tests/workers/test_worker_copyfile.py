from __future__ import annotations

import os
import threading

import marshmallow as ma
import pytest

from tasky.config import Settings
from tasky.worker import Aborted
from workers.copyfile import CHUNK, CopyFile


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "files"
    root.mkdir()
    return root


@pytest.fixture
def worker(root):
    return CopyFile(Settings(files_root=str(root)))


def load(worker, **config):
    """Submit-time handling: the schema, then the worker's own checks."""
    return worker.validate(CopyFile.Config().load(config))


def leftovers(directory) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.startswith("."))


class AbortAfter(threading.Event):
    """An abort event that reports itself set from its ``n``-th look on: a cancel arriving
    in the middle of a copy, deterministically."""

    def __init__(self, n: int):
        super().__init__()
        self.n, self.looks = n, 0

    def is_set(self) -> bool:
        self.looks += 1
        return self.looks >= self.n or super().is_set()


def test_copies_and_creates_parent_directories(worker, root, ctx):
    data = os.urandom(3 * CHUNK + 123)
    (root / "in.bin").write_bytes(data)
    output = worker.perform(load(worker, source="in.bin", destination="a/b/out.bin"), ctx)
    assert output == {"source": "in.bin", "destination": "a/b/out.bin", "bytes": len(data)}
    assert (root / "a/b/out.bin").read_bytes() == data
    assert leftovers(root / "a/b") == []


def test_copies_an_empty_file(worker, root, ctx):
    (root / "empty").write_bytes(b"")
    output = worker.perform(load(worker, source="empty", destination="copy"), ctx)
    assert output["bytes"] == 0 and (root / "copy").read_bytes() == b""


def test_schema_requires_both_paths():
    with pytest.raises(ma.ValidationError) as info:
        CopyFile.Config().load({})
    assert set(info.value.messages) == {"source", "destination"}
    assert CopyFile.Config().load({"source": "a", "destination": "b"})["overwrite"] is False


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"source": "/etc/passwd", "destination": "x"}, "source"),
        ({"source": "x", "destination": "/tmp/x"}, "destination"),
        ({"source": "../outside", "destination": "x"}, "source"),
        ({"source": "x", "destination": "a/../../x"}, "destination"),
        ({"source": ".", "destination": "x"}, "source"),
        ({"source": "x", "destination": "a/.."}, "destination"),
        ({"source": "x\0y", "destination": "x"}, "source"),
    ],
)
def test_rejects_paths_leaving_the_root(worker, config, field):
    with pytest.raises(ma.ValidationError) as info:
        load(worker, **config)
    assert set(info.value.messages) == {field}


def test_reports_both_fields_at_once(worker):
    with pytest.raises(ma.ValidationError) as info:
        load(worker, source="/a", destination="../b")
    assert set(info.value.messages) == {"source", "destination"}


def test_rejects_symlinks_pointing_out(worker, root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    (root / "dir_link").symlink_to(outside)
    (root / "file_link").symlink_to(outside / "secret")
    for config, field in [
        ({"source": "dir_link/secret", "destination": "x"}, "source"),
        ({"source": "file_link", "destination": "x"}, "source"),
        ({"source": "x", "destination": "dir_link/new"}, "destination"),
    ]:
        with pytest.raises(ma.ValidationError) as info:
            load(worker, **config)
        assert set(info.value.messages) == {field}


def test_accepts_dotdot_and_symlinks_that_stay_inside(worker, root, ctx):
    (root / "sub").mkdir()
    (root / "sub/in.txt").write_text("hi")
    (root / "alias").symlink_to(root / "sub")
    config = load(worker, source="alias/../sub/in.txt", destination="alias/out.txt")
    assert worker.perform(config, ctx)["bytes"] == 2
    assert (root / "sub/out.txt").read_text() == "hi"


def test_rechecks_confinement_when_it_runs(worker, root, tmp_path, ctx):
    """The tree may change between submit and run: a directory swapped for a symlink out."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    (root / "dir").mkdir()
    config = load(worker, source="dir/secret", destination="stolen")
    (root / "dir").rmdir()
    (root / "dir").symlink_to(outside)
    with pytest.raises(PermissionError, match="source"):
        worker.perform(config, ctx)
    assert not (root / "stolen").exists()


def test_missing_source_fails(worker, ctx):
    with pytest.raises(FileNotFoundError, match="'nope' does not exist"):
        worker.perform(load(worker, source="nope", destination="x"), ctx)


def test_directory_source_fails(worker, root, ctx):
    (root / "dir").mkdir()
    with pytest.raises(ValueError, match="not a regular file"):
        worker.perform(load(worker, source="dir", destination="x"), ctx)
    assert not (root / "x").exists()


def test_existing_destination_without_overwrite_fails(worker, root, ctx):
    (root / "in").write_text("new")
    (root / "out").write_text("old")
    with pytest.raises(FileExistsError):
        worker.perform(load(worker, source="in", destination="out"), ctx)
    assert (root / "out").read_text() == "old"


def test_overwrite_replaces_destination(worker, root, ctx):
    (root / "in").write_text("new")
    (root / "out").write_text("old")
    worker.perform(load(worker, source="in", destination="out", overwrite=True), ctx)
    assert (root / "out").read_text() == "new"
    assert leftovers(root) == []


def test_abort_before_the_first_chunk_leaves_nothing(worker, root, ctx, abort):
    (root / "in").write_bytes(os.urandom(CHUNK))
    abort.set()
    with pytest.raises(Aborted):
        worker.perform(load(worker, source="in", destination="out"), ctx)
    assert sorted(os.listdir(root)) == ["in"]


@pytest.mark.timeout(30)
def test_abort_mid_copy_leaves_no_partial_file(worker, root, ctx):
    (root / "in").write_bytes(os.urandom(8 * CHUNK))
    (root / "out").write_text("old")
    mid_copy = AbortAfter(4)
    ctx = type(ctx)(task_id=ctx.task_id, attempt=1, abort_event=mid_copy, logger=ctx.logger)
    with pytest.raises(Aborted):
        worker.perform(load(worker, source="in", destination="out", overwrite=True), ctx)
    assert mid_copy.looks == 4  # three chunks were written before the cancel
    assert (root / "out").read_text() == "old"
    assert sorted(os.listdir(root)) == ["in", "out"]


def test_default_root_without_settings(tmp_path, monkeypatch, ctx):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/files").mkdir(parents=True)
    (tmp_path / "data/files/in").write_text("x")
    worker = CopyFile()
    with pytest.raises(ma.ValidationError):
        load(worker, source="../in", destination="out")
    worker.perform(load(worker, source="in", destination="out"), ctx)
    assert (tmp_path / "data/files/out").read_text() == "x"

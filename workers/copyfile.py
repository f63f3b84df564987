"""``copyfile``: copies a file to another place inside the files root, atomically.

Both paths are relative to ``Settings.files_root``. One that leaves the root (an absolute
path, a ``..`` climbing out, a symbolic link pointing out) is rejected at submit time and
again when the task runs, since the tree may have changed in between; the copy then works
on the resolved real paths. The bytes go to a temp file beside the destination that is
renamed over it only once complete, so a canceled or failed copy leaves no partial file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat

import marshmallow as ma

from tasky.config import Settings
from tasky.worker import Worker

CHUNK = 1024 * 1024
"""Bytes copied between two cancel checks."""

PATH_FIELDS = ("source", "destination")


class CopyFile(Worker):
    name = "copyfile"
    description = "Copies a file inside the files root (TASKY_FILES_ROOT), atomically."
    usage = (
        "curl -X POST http://127.0.0.1:8888/tasky/v1/workers/copyfile "
        '-d \'{"config": {"source": "in.txt", "destination": "backup/in.txt"}}\''
    )
    max_num_tasks = 4

    class Config(ma.Schema):
        source = ma.fields.String(
            required=True,
            validate=ma.validate.Length(min=1),
            metadata={
                "description": "File to copy, relative to the files root.",
                "example": "in.txt",
            },
        )
        destination = ma.fields.String(
            required=True,
            validate=ma.validate.Length(min=1),
            metadata={
                "description": "Where to copy it, relative to the files root; "
                "missing parent directories are created.",
                "example": "backup/in.txt",
            },
        )
        overwrite = ma.fields.Boolean(
            load_default=False,
            metadata={"description": "Replace the destination if it exists."},
        )

    def validate(self, config):
        self._resolve(config)
        return config

    def perform(self, config, ctx):
        try:
            source, destination = self._resolve(config)
        except ma.ValidationError as exc:
            raise PermissionError(_describe(exc)) from None
        overwrite = config["overwrite"]
        if not overwrite and os.path.lexists(destination):
            raise FileExistsError(_exists(config))
        with _open_regular(source, config["source"]) as src:
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            temp = os.path.join(
                os.path.dirname(destination),
                f".{os.path.basename(destination)}.{secrets.token_hex(6)}.tasky-tmp",
            )
            try:
                copied = _copy(src, temp, ctx)
                if not overwrite and os.path.lexists(destination):
                    raise FileExistsError(_exists(config))
                os.replace(temp, destination)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
                raise
        return {"source": config["source"], "destination": config["destination"], "bytes": copied}

    def _resolve(self, config) -> tuple[str, str]:
        """The real (symlink-free) source and destination paths; ``ValidationError`` with a
        message per field if either leaves the files root."""
        root = os.path.realpath((self.settings or Settings()).files_root)
        resolved, errors = {}, {}
        for field in PATH_FIELDS:
            try:
                resolved[field] = _confine(root, config[field])
            except ValueError as exc:
                errors[field] = [str(exc)]
        if errors:
            raise ma.ValidationError(errors)
        return resolved["source"], resolved["destination"]


def _confine(root: str, relative: str) -> str:
    """``root/relative`` with every symbolic link resolved; ``ValueError`` unless it is
    strictly inside ``root`` (itself a real path)."""
    if "\0" in relative:
        raise ValueError("Must not contain a NUL character.")
    if os.path.isabs(relative):
        raise ValueError("Must be relative to the files root, not an absolute path.")
    if not _inside(root, os.path.normpath(os.path.join(root, relative))):
        raise ValueError("Must not leave the files root through '..'.")
    real = os.path.realpath(os.path.join(root, relative))
    if not _inside(root, real):
        raise ValueError("Resolves outside the files root through a symbolic link.")
    if real == root:
        raise ValueError("Must name a file inside the files root, not the root itself.")
    return real


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, path]) == root


def _open_regular(path: str, shown: str):
    """Open a regular file for reading. ``O_NOFOLLOW`` refuses a symlink planted since the
    path was resolved; ``O_NONBLOCK`` keeps a FIFO from blocking the open (it is then
    refused, as a copy from it could block beyond the reach of a cancel)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise FileNotFoundError(f"source {shown!r} does not exist") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"source {shown!r} is not a regular file")
    return os.fdopen(fd, "rb")


def _copy(src, temp: str, ctx) -> int:
    """Copy ``src`` into the new file ``temp`` chunk by chunk, checking for a cancel between
    chunks; return the number of bytes copied."""
    copied = 0
    with open(temp, "xb") as dst:
        while chunk := src.read(CHUNK):
            ctx.check()
            dst.write(chunk)
            copied += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())  # on disk before the rename makes it visible
    ctx.check()
    return copied


def _exists(config) -> str:
    return f"destination {config['destination']!r} exists and overwrite is false"


def _describe(exc: ma.ValidationError) -> str:
    """``validate`` raises with a message per field (a dict), never a bare list."""
    messages = exc.messages if isinstance(exc.messages, dict) else {"config": exc.messages}
    return "; ".join(f"{field}: {' '.join(texts)}" for field, texts in messages.items())

"""Backup and restore: an export is a snapshot of the store as NDJSON, streamed; an import
restores one, line by line, into an empty store or beside what it holds.

A task that was running when the export was taken comes back as a crash would leave it:
it is restored as held by an owner that no longer runs, then recovered at once by the
store's own recovery (retried if retries are left, else failed as ``interrupted``; a
``canceling`` one ends ``canceled``), and its hook is called.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from tasky.backup.format import (
    NotAnExport,
    Rejected,
    Writer,
    header_line,
    parse_line,
    read_header,
)
from tasky.errors import TriggerError
from tasky.models import ACTIVE_STATES, Schedule, Task
from tasky.schedules import trigger_of
from tasky.service.base import Part
from tasky.stores.backup import Restored, Snapshot

EXPORT_CHUNK = 1000
"""Lines written to the response at a time."""
IMPORT_BATCH = 2000
"""Lines restored per transaction."""
REPORTED_REJECTIONS = 1000
"""Rejected lines the report lists (it counts them all)."""

KINDS = ("chains", "schedules", "tasks")
"""What an import counts, by kind of line."""
_TASK = {f.name: index for index, f in enumerate(fields(Task))}
_HELD = frozenset(state.value for state in ACTIVE_STATES)


class Export:
    """A snapshot being exported: its header, then its lines by chunks of bytes. ``close``
    ends the snapshot (the response calls it when it is done, read or not)."""

    def __init__(self, store_kind: str, context: AbstractContextManager[Snapshot], now: float):
        self._open = ExitStack()
        self._snapshot = self._open.enter_context(context)
        try:
            self.counts = self._snapshot.counts()
        except BaseException:
            self.close()
            raise
        self.taken_at = now
        self.header = header_line(store_kind, now, *self.counts)

    @property
    def filename(self) -> str:
        stamp = datetime.fromtimestamp(self.taken_at, UTC).strftime("%Y%m%dT%H%M%SZ")
        return f"tasky-export-{stamp}.ndjson"

    def chunks(self) -> Iterator[bytes]:
        yield self.header.encode()
        for rows, kind in (
            (self._snapshot.chains(), "chain"),
            (self._snapshot.schedules(), "schedule"),
            (self._snapshot.tasks(), "task"),
        ):
            lines = map(Writer(kind), rows)
            while chunk := b"".join(islice(lines, EXPORT_CHUNK)):
                yield chunk

    def close(self) -> None:
        self._open.close()


@dataclass
class ImportReport:
    """What an import did: rows imported and skipped (their id was stored already), by kind;
    lines rejected (the first ``REPORTED_REJECTIONS`` with their line number and reason);
    tasks that were running and came back as after a crash."""

    imported: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    rejected: int = 0
    rejected_lines: list[dict[str, Any]] = field(default_factory=list)
    recovered: int = 0

    def reject(self, line: int, message: str) -> None:
        self.rejected += 1
        if len(self.rejected_lines) < REPORTED_REJECTIONS:
            self.rejected_lines.append({"line": line, "message": message})

    def count(self, kind: str, restored: Restored, lines: dict[str, int]) -> None:
        self.imported[kind] += len(restored.inserted)
        self.skipped[kind] += len(restored.existing)
        for row_id in sorted(restored.conflicting, key=lines.__getitem__):
            self.reject(lines[row_id], "idempotency_key: another task holds this key")


class Backup(Part):
    def export(self) -> Export:
        """A snapshot of every schedule and task, taken now; the store keeps serving."""
        return Export(self.store.kind, self.store.snapshot(), self.clock())

    def restore(self, lines: Iterable[bytes]) -> ImportReport:
        """Import an export's lines (the header first). ``NotAnExport`` (400) or
        ``UnsupportedFormat`` (422) for a body that is not one; each line that does not
        validate, or whose idempotency key another task holds, is rejected on its own."""
        numbered = enumerate(lines, start=1)
        first = next(numbered, None)
        if first is None:
            raise NotAnExport()
        taken_at = read_header(first[1])["taken_at_epoch"]
        owner = f"import:{os.getpid()}:{os.urandom(6).hex()}"
        report = ImportReport()
        while batch := list(islice(numbered, IMPORT_BATCH)):
            self._restore_batch(batch, report, owner, taken_at)
        self.engine.wake()
        return report

    def _restore_batch(
        self, batch: list[tuple[int, bytes]], report: ImportReport, owner: str, taken_at: float
    ) -> None:
        rows: dict[str, list[tuple]] = {"chain": [], "schedule": [], "task": []}
        lines: dict[str, dict[str, int]] = {"chain": {}, "schedule": {}, "task": {}}
        held: set[str] = set()
        for number, text in batch:
            if not text.strip():
                continue
            try:
                kind, row = parse_line(text)
                if kind == "schedule":
                    _check_trigger(row)
                elif kind == "task" and row[_TASK["status"]] in _HELD:
                    row = _held_by(row, owner, taken_at)
                    held.add(row[0])
            except Rejected as exc:
                report.reject(number, str(exc))
                continue
            rows[kind].append(row)
            lines[kind].setdefault(row[0], number)
        chains, schedules, tasks = self.store.restore(rows["chain"], rows["schedule"], rows["task"])
        report.count("chains", chains, lines["chain"])
        report.count("schedules", schedules, lines["schedule"])
        report.count("tasks", tasks, lines["task"])
        if held:
            # Counted as restored: a runner reaping expired leases may recover some first.
            report.recovered += len(held & tasks.inserted)
            self.engine.ended(self.store.recover(self.clock(), owner=owner))


def _check_trigger(row: tuple) -> None:
    try:
        trigger_of(Schedule(*row))
    except TriggerError as exc:
        raise Rejected(exc.message) from None


def _held_by(row: tuple, owner: str, taken_at: float) -> tuple:
    """A running task's row as a crash leaves it: held by ``owner`` (which the import then
    recovers), its lease ending when the export was taken."""
    values = list(row)
    values[_TASK["owner"]] = owner
    values[_TASK["lease_until"]] = taken_at
    return tuple(values)

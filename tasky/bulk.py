"""Bulk actions on the tasks of a filter: which states each action applies to. The store
changes only tasks in these states; the service reports the others as skipped."""

from __future__ import annotations

from tasky.models import TaskState

BULK_ACTIONS: dict[str, frozenset[TaskState]] = {
    "cancel": frozenset(
        {TaskState.SCHEDULED, TaskState.QUEUED, TaskState.PAUSED, TaskState.RUNNING}
    ),
    "pause": frozenset({TaskState.SCHEDULED, TaskState.QUEUED}),
    "resume": frozenset({TaskState.PAUSED}),
    "run": frozenset({TaskState.SCHEDULED, TaskState.PAUSED}),
    "delete": frozenset({TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELED}),
}
"""``run`` makes a waiting task due now; a finished one is copied only one at a time
(``POST /tasks/<id>/actions``), so a bulk run skips it, as it skips a queued one (due already)."""

"""Dependencies in the store: releasing or skipping the tasks that wait for others.

Every transaction that ends a task (finish, cancel, recovery, a deleted schedule's cancels,
a skip) calls :meth:`Dependencies._ended` before it commits, so a child's release is part
of its last parent's end: once, whatever crashes, and never lost between the two.

Concurrent ends of a child's parents (PostgreSQL, READ COMMITTED) take turns on the child's
row: each locks its blocked children (``FOR UPDATE``) before it reads their parents' states,
so the last one to commit reads every other one's end, and a child already released by one
of them is no longer blocked when the next gets its lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tasky import jsontext
from tasky.errors import InvalidInput
from tasky.models import NewTask, RunIf, Task
from tasky.refs import MissingValue, resolve
from tasky.stores.dialect import Dialect
from tasky.stores.rows import (
    ACTIVE,
    TASK_COLUMNS,
    TERMINAL,
    chunks,
    json_or_none,
    marks,
    task_from_row,
)
from tasky.stores.webhooks import WebhookStatements

RELEASE, SKIP, WAIT = "release", "skip", "wait"


def decide(
    run_if: RunIf | None,
    waiting: int,
    failed: str | None,
    canceled: str | None,
    skipped: str | None,
) -> tuple[str, str | None]:
    """What a blocked task's rule says, from its parents: how many have not ended, and the
    first (by id) that failed, was canceled, was skipped. ``(RELEASE | SKIP | WAIT, reason)``;
    a rule that can no longer hold skips at once, without waiting for the other parents."""
    rule = run_if or RunIf.ALL_SUCCESS
    if rule in (RunIf.ALL_SUCCESS, RunIf.NONE_FAILED):
        bad = [("failed", failed), ("canceled", canceled)]
        if rule is RunIf.ALL_SUCCESS:
            bad.append(("skipped", skipped))
        for outcome, parent in bad:
            if parent is not None:
                return SKIP, f"upstream {outcome}: {parent}"
    if waiting:
        return WAIT, None
    if rule is RunIf.ANY_FAILED and failed is None:
        return SKIP, "no upstream failed"
    return RELEASE, None


CANCEL_SET = (
    f"status = CASE WHEN status IN {ACTIVE} THEN 'canceling' ELSE 'canceled' END,"
    f" finished_at = CASE WHEN status IN {ACTIVE} THEN NULL ELSE %s END"
)
"""A cancel's change: a running task is flagged canceling, any other ends canceled now."""


class Dependencies(WebhookStatements):
    """The dependency side of :class:`~tasky.stores.sql.SQLStore` (mixed into it); an end
    stores its webhook deliveries too."""

    dialect: Dialect

    def _execute(self, db: Any, sql: str, params: Any = ()) -> Any:
        raise NotImplementedError

    def _released(self, db: Any) -> None:
        """Tasks were released in ``db``'s transaction: wake the runners once it commits."""
        raise NotImplementedError

    def _link(self, db: Any, created: Iterable[NewTask]) -> None:
        """Record the parents of new tasks, in their insert's transaction; settle at once those
        whose parents have all ended. ``InvalidInput`` (and nothing stored) for a parent that
        is not stored."""
        edges = [(new.id, parent) for new in created for parent in new.depends_on or ()]
        if not edges:
            return
        children = sorted({child for child, _ in edges})
        parents = sorted({parent for _, parent in edges})
        found: set[str] = set()
        for part in chunks(parents):
            sql = f"SELECT id FROM tasks WHERE id IN {marks(part)}"
            found.update(row[0] for row in self._execute(db, sql, part))
        missing = [parent for parent in parents if parent not in found]
        if missing:
            message = f"no task {missing[0]!r} to depend on"
            raise InvalidInput(message, errors={"depends_on": [message]})
        cursor = db.cursor()
        cursor.executemany(
            self.dialect.sql("INSERT INTO task_deps (child_id, parent_id) VALUES (%s, %s)"), edges
        )
        now = max(new.created_at for new in created)
        self._settle_then_cascade(db, children, now)

    def _ended(self, db: Any, ended: Iterable[Task], now: float) -> None:
        """Tasks ended in ``db``'s transaction: apply a chain's ``cancel_all`` to its failed
        steps, then release or skip their blocked children, and theirs in turn."""
        terminal = [task for task in ended if task.status.is_terminal]
        if not terminal:
            return
        self._enqueue_ended(db, terminal, now)
        failed_chains = sorted(
            {t.chain_id for t in terminal if t.chain_id and t.status == "failed"}
        )
        ids = [task.id for task in terminal]
        if failed_chains:
            ids += self._cancel_all(db, failed_chains, now)
        self._cascade(db, ids, now)

    def _cancel_all(self, db: Any, chain_ids: Sequence[str], now: float) -> list[str]:
        sql = f"SELECT id FROM chains WHERE id IN {marks(chain_ids)} AND failure_policy = %s"
        doomed = [row[0] for row in self._execute(db, sql, (*chain_ids, "cancel_all"))]
        if not doomed:
            return []
        return [task.id for task in self._cancel_steps(db, doomed, now) if task.status.is_terminal]

    def _cancel_steps(self, db: Any, chain_ids: Sequence[str], now: float) -> list[Task]:
        """Cancel every unfinished step of the chains: ``canceled`` now, or ``canceling``
        when running; the steps changed. The caller settles their children."""
        rows = self._execute(
            db,
            f"UPDATE tasks SET {CANCEL_SET} WHERE chain_id IN {marks(chain_ids)}"
            f" AND status NOT IN {TERMINAL} RETURNING {TASK_COLUMNS}",
            (now, *chain_ids),
        ).fetchall()
        changed = sorted((task_from_row(row) for row in rows), key=lambda task: task.id)
        self._enqueue_ended(db, changed, now)
        if any(task.status == "canceling" for task in changed):
            self._released(db)  # a flagged cancel wakes the runners too
        return changed

    def _cascade(self, db: Any, parents: Sequence[str], now: float) -> None:
        while parents:
            children: list[str] = []
            for part in chunks(sorted(parents)):
                sql = (
                    f"SELECT id FROM tasks WHERE status = 'blocked' AND id IN"
                    f" (SELECT child_id FROM task_deps WHERE parent_id IN {marks(part)})"
                    f" ORDER BY id{self.dialect.lock_row}"
                )
                children.extend(row[0] for row in self._execute(db, sql, part))
            parents = self._settle(db, sorted(set(children)), now)

    def _settle_then_cascade(self, db: Any, children: Sequence[str], now: float) -> None:
        self._cascade(db, self._settle(db, children, now), now)

    def _settle(self, db: Any, children: Sequence[str], now: float) -> list[str]:
        """Apply each blocked child's rule (the children locked by the caller, or new); the
        ids of those that ended (skipped, or failed on a reference)."""
        releases: list[tuple[str, Any]] = []
        skips: dict[str, list[str]] = {}
        for part in chunks(children):
            for child, run_if, template, waiting, failed, canceled, skipped in self._execute(
                db, _STANDING.format(ids=marks(part)), part
            ).fetchall():
                verdict, reason = decide(
                    None if run_if is None else RunIf(run_if), waiting, failed, canceled, skipped
                )
                if verdict == RELEASE:
                    releases.append((child, template))
                elif verdict == SKIP:
                    skips.setdefault(reason or "", []).append(child)
        ended = []
        for reason, ids in skips.items():
            for part in chunks(ids):
                self._execute(
                    db,
                    f"UPDATE tasks SET status = 'skipped', skip_reason = %s, finished_at = %s"
                    f" WHERE status = 'blocked' AND id IN {marks(part)}",
                    (reason, now, *part),
                )
            ended.extend(ids)
        if releases:
            ended.extend(self._release(db, releases, now))
        self._enqueue_ended_ids(db, ended, now)
        return ended

    def _release(self, db: Any, releases: list[tuple[str, Any]], now: float) -> list[str]:
        """Make the children due (their references resolved); the ids of those whose
        reference failed them."""
        plain = [child for child, template in releases if template is None]
        failed = []
        for part in chunks(plain):
            self._execute(
                db,
                f"{_RELEASE} WHERE status = 'blocked' AND id IN {marks(part)}",
                (now, now, now, *part),
            )
        for child, template in releases:
            if template is None:
                continue
            try:
                config = resolve(jsontext.loads(template), self._by_name(db, child))
            except MissingValue as exc:
                self._execute(
                    db,
                    "UPDATE tasks SET status = 'failed', error = %s, finished_at = %s"
                    " WHERE id = %s AND status = 'blocked'",
                    (str(exc), now, child),
                )
                failed.append(child)
                continue
            self._execute(
                db,
                f"{_RELEASE}, config = %s WHERE id = %s AND status = 'blocked'",
                (now, now, now, jsontext.dumps(config), child),
            )
        if len(failed) < len(releases):
            self._released(db)
        return failed

    def _results(self, db: Any, child: str) -> list[tuple[str, str | None, dict[str, Any]]]:
        """The results ``{status, output, error}`` of a task's parents: ``(id, step, result)``
        each, ``step`` the parent's step name when it is in the task's chain, else None."""
        rows = self._execute(
            db,
            "SELECT p.id, CASE WHEN p.chain_id = c.chain_id THEN p.step END,"
            " p.status, p.output, p.error"
            " FROM task_deps d JOIN tasks p ON p.id = d.parent_id"
            " JOIN tasks c ON c.id = d.child_id WHERE d.child_id = %s ORDER BY p.id",
            (child,),
        ).fetchall()
        return [
            (task_id, step, {"status": status, "output": json_or_none(output), "error": error})
            for task_id, step, status, output, error in rows
        ]

    def _by_name(self, db: Any, child: str) -> dict[str, dict[str, Any]]:
        """A task's parents' results by step name and by id: what ``$from`` may name."""
        results = {}
        for task_id, step, result in self._results(db, child):
            results[task_id] = result
            if step is not None:
                results[step] = result
        return results

    def task_inputs(self, task_id: str) -> dict[str, dict[str, Any]]:
        """The results ``{status, output, error}`` of a task's parents, by step name within
        its chain, else by task id: what its worker sees as its inputs."""
        with self._reader() as db:  # type: ignore[attr-defined]
            return {step or pid: result for pid, step, result in self._results(db, task_id)}

    def sweep_blocked(self, now: float) -> list[str]:
        """Settle the blocked tasks whose parents have all ended: a healthy store has none,
        as each end settles its children. The ids it settled."""
        with self._write() as db:  # type: ignore[attr-defined]
            rows = self._execute(db, _STRANDED + self.dialect.lock_row).fetchall()
            stranded = [row[0] for row in rows]
            if stranded:
                self._settle_then_cascade(db, stranded, now)
        return stranded


_STANDING = (
    f"SELECT c.id, c.run_if, c.config_template,"
    f" coalesce(sum(CASE WHEN p.status NOT IN {TERMINAL} THEN 1 ELSE 0 END), 0),"
    f" min(CASE WHEN p.status = 'failed' THEN p.id END),"
    f" min(CASE WHEN p.status = 'canceled' THEN p.id END),"
    f" min(CASE WHEN p.status = 'skipped' THEN p.id END)"
    f" FROM tasks c LEFT JOIN task_deps d ON d.child_id = c.id"
    f" LEFT JOIN tasks p ON p.id = d.parent_id"
    f" WHERE c.id IN {{ids}} AND c.status = 'blocked' GROUP BY c.id, c.run_if, c.config_template"
)
"""Per blocked child: its rule, its config template, and where its parents stand."""
_RELEASE = (
    "UPDATE tasks SET status = CASE WHEN execute_at > %s THEN 'scheduled' ELSE 'queued' END,"
    " execute_at = CASE WHEN execute_at > %s THEN execute_at ELSE %s END"
)
_STRANDED = (
    f"SELECT id FROM tasks c WHERE status = 'blocked' AND NOT EXISTS"
    f" (SELECT 1 FROM task_deps d JOIN tasks p ON p.id = d.parent_id"
    f" WHERE d.child_id = c.id AND p.status NOT IN {TERMINAL}) ORDER BY id"
)
"""Blocked tasks whose parents have all ended. Every update of a settle is conditioned on
``status = 'blocked'`` too: a task the sweep read as stranded that a parent's end settled
meanwhile is left as that end left it."""

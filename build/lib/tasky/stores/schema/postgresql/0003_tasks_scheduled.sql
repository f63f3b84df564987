-- Tasks waiting for their time, by worker and due time: mark_queued looks for the scheduled
-- ones that came due among the (possibly many) queued ones of tasks_due, whose status only
-- the table row holds. Queued and running rows have no entry, so it costs them nothing.
CREATE INDEX IF NOT EXISTS tasks_scheduled ON tasks (worker, execute_at)
    WHERE status = 'scheduled';

-- Schedules: a cron or interval trigger that creates tasks. next_run_at is NULL once the
-- trigger has no tick left.
CREATE TABLE schedules (
    id               TEXT PRIMARY KEY,
    worker           TEXT NOT NULL,
    config           TEXT NOT NULL,
    cron             TEXT,
    interval_seconds REAL,
    timezone         TEXT NOT NULL,
    status           TEXT NOT NULL,
    next_run_at      REAL,
    created_at       REAL NOT NULL,
    overlap          TEXT NOT NULL,
    misfire          TEXT NOT NULL,
    start_at         REAL,
    end_at           REAL,
    last_run_at      REAL,
    last_task_id     TEXT,
    runs             INTEGER NOT NULL DEFAULT 0,
    timeout          REAL,
    max_retries      INTEGER NOT NULL DEFAULT 0,
    retry_backoff    REAL NOT NULL DEFAULT 1
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE status = 'active';

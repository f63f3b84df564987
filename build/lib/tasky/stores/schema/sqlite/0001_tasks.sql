-- Tasks. Files here run in order of their number, recorded in PRAGMA user_version.
-- Instants are REAL seconds since the epoch, UTC. Ids are time-ordered, so the primary key
-- orders tasks newest first for keyset pagination.
CREATE TABLE IF NOT EXISTS tasks (
    id               TEXT PRIMARY KEY,
    worker           TEXT NOT NULL,
    status           TEXT NOT NULL,
    config           TEXT NOT NULL,
    execute_at       REAL NOT NULL,
    created_at       REAL NOT NULL,
    started_at       REAL,
    finished_at      REAL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_retries      INTEGER NOT NULL DEFAULT 0,
    retry_backoff    REAL NOT NULL DEFAULT 1,
    timeout          REAL,
    schedule_id      TEXT,
    idempotency_key  TEXT UNIQUE,
    error            TEXT,
    output           TEXT,
    output_truncated INTEGER NOT NULL DEFAULT 0,
    owner            TEXT,
    lease_until      REAL,
    lateness         REAL,
    queued_for       REAL NOT NULL DEFAULT 0,
    ran_for          REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_due ON tasks (worker, execute_at, id)
    WHERE status IN ('queued', 'scheduled');
CREATE INDEX IF NOT EXISTS tasks_held ON tasks (owner, lease_until)
    WHERE status IN ('canceling', 'running');
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status, id);
CREATE INDEX IF NOT EXISTS tasks_by_worker ON tasks (worker, id);
CREATE INDEX IF NOT EXISTS tasks_by_schedule ON tasks (schedule_id, id)
    WHERE schedule_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_finished ON tasks (finished_at)
    WHERE finished_at IS NOT NULL;

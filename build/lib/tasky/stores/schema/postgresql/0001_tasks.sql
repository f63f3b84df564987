-- Tasks. Files here run in order of their number, each recorded in schema_version.
-- Instants are double precision seconds since the epoch, UTC, as in SQLite, so the engine's
-- arithmetic is the same on both stores. config and output are JSON kept as text: they
-- come back exactly as stored. Ids are time-ordered hex compared bytewise (COLLATE "C"),
-- so the primary key orders tasks newest first for keyset pagination.
CREATE TABLE IF NOT EXISTS tasks (
    id               text COLLATE "C" PRIMARY KEY,
    worker           text NOT NULL,
    status           text NOT NULL,
    config           text NOT NULL,
    execute_at       double precision NOT NULL,
    created_at       double precision NOT NULL,
    started_at       double precision,
    finished_at      double precision,
    attempts         integer NOT NULL DEFAULT 0,
    max_retries      integer NOT NULL DEFAULT 0,
    retry_backoff    double precision NOT NULL DEFAULT 1,
    timeout          double precision,
    schedule_id      text COLLATE "C",
    idempotency_key  text UNIQUE,
    error            text,
    output           text,
    output_truncated boolean NOT NULL DEFAULT false,
    owner            text,
    lease_until      double precision,
    lateness         double precision,
    queued_for       double precision NOT NULL DEFAULT 0,
    ran_for          double precision NOT NULL DEFAULT 0
);
-- id breaks ties in the claim's ORDER BY execute_at, id (a batch shares one execute_at), so
-- a claim reads its few rows in index order instead of sorting every due one.
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

-- Schedules: a cron or interval trigger that creates tasks. next_run_at is NULL once the
-- trigger has no tick left.
CREATE TABLE schedules (
    id               text COLLATE "C" PRIMARY KEY,
    worker           text NOT NULL,
    config           text NOT NULL,
    cron             text,
    interval_seconds double precision,
    timezone         text NOT NULL,
    status           text NOT NULL,
    next_run_at      double precision,
    created_at       double precision NOT NULL,
    overlap          text NOT NULL,
    misfire          text NOT NULL,
    start_at         double precision,
    end_at           double precision,
    last_run_at      double precision,
    last_task_id     text COLLATE "C",
    runs             integer NOT NULL DEFAULT 0,
    timeout          double precision,
    max_retries      integer NOT NULL DEFAULT 0,
    retry_backoff    double precision NOT NULL DEFAULT 1
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE status = 'active';

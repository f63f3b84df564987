-- Runners: one row per runner process, written by its heartbeat. workers is a JSON array of
-- the workers it runs, running a JSON object of its running tasks per worker.
CREATE TABLE IF NOT EXISTS runners (
    id           text PRIMARY KEY,
    host         text NOT NULL,
    pid          integer NOT NULL,
    started_at   double precision NOT NULL,
    heartbeat_at double precision NOT NULL,
    workers      text NOT NULL,
    running      text NOT NULL
);

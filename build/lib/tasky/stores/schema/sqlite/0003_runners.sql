-- Runners: one row per runner process, written by its heartbeat. workers is a JSON array of
-- the workers it runs, running a JSON object of its running tasks per worker.
CREATE TABLE IF NOT EXISTS runners (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    workers      TEXT NOT NULL,
    running      TEXT NOT NULL
);

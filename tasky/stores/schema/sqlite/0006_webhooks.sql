-- Webhooks. An endpoint receives the events it names (events: a JSON array) of the tasks its
-- filter matches (worker, chain_id, schedule_id: each NULL for any). previous_secret keeps
-- signing until previous_until after a rotation, and disabled_at is set when the receiver
-- answered 410 (or a client disabled it), with disabled_reason.
CREATE TABLE IF NOT EXISTS webhooks (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    worker          TEXT,
    chain_id        TEXT,
    schedule_id     TEXT,
    description     TEXT,
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  REAL,
    disabled_at     REAL,
    disabled_reason TEXT,
    created_at      REAL NOT NULL
);
-- A submit's callback_url: the terminal events of the task, schedule or chain target_id.
CREATE TABLE IF NOT EXISTS webhook_callbacks (
    target_id TEXT PRIMARY KEY,
    url       TEXT NOT NULL
);
-- The outbox: one row per event and receiver, written in the transaction of the change that
-- caused it. Its id is the webhook-id every attempt sends. A runner holds a row it is sending
-- under a lease (owner, lease_until), as it holds a running task, and attempts counts the claims.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT REFERENCES webhooks (id) ON DELETE CASCADE,
    url             TEXT,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    owner           TEXT,
    lease_until     REAL,
    last_status     INTEGER,
    last_latency    REAL,
    last_answer     TEXT,
    last_error      TEXT,
    created_at      REAL NOT NULL,
    delivered_at    REAL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_of ON webhook_deliveries (webhook_id, id);

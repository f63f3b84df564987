-- Webhooks. An endpoint receives the events it names (events: a JSON array) of the tasks its
-- filter matches (worker, chain_id, schedule_id: each NULL for any). previous_secret keeps
-- signing until previous_until after a rotation, and disabled_at is set when the receiver
-- answered 410 (or a client disabled it), with disabled_reason.
CREATE TABLE webhooks (
    id              text COLLATE "C" PRIMARY KEY,
    url             text NOT NULL,
    events          text NOT NULL,
    worker          text,
    chain_id        text,
    schedule_id     text,
    description     text,
    secret          text NOT NULL,
    previous_secret text,
    previous_until  double precision,
    disabled_at     double precision,
    disabled_reason text,
    created_at      double precision NOT NULL
);
-- A submit's callback_url: the terminal events of the task, schedule or chain target_id.
CREATE TABLE webhook_callbacks (
    target_id text COLLATE "C" PRIMARY KEY,
    url       text NOT NULL
);
-- The outbox: one row per event and receiver, written in the transaction of the change that
-- caused it. Its id is the webhook-id every attempt sends. A runner holds a row it is sending
-- under a lease (owner, lease_until), as it holds a running task, and attempts counts the claims.
CREATE TABLE webhook_deliveries (
    id              text COLLATE "C" PRIMARY KEY,
    webhook_id      text REFERENCES webhooks (id) ON DELETE CASCADE,
    url             text,
    event           text NOT NULL,
    payload         text NOT NULL,
    status          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at double precision NOT NULL,
    owner           text,
    lease_until     double precision,
    last_status     integer,
    last_latency    double precision,
    last_answer     text,
    last_error      text,
    created_at      double precision NOT NULL,
    delivered_at    double precision
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_of ON webhook_deliveries (webhook_id, id);

-- Dependencies: a task may wait for others (its parents) to end. It is stored blocked with
-- its parents listed in depends_on (a JSON array) and one task_deps row per parent, read
-- from the parent's side when a parent ends. run_if is the rule deciding whether it then
-- runs, skip_reason why it did not. config_template keeps a config that takes values from
-- the parents ($from) as submitted, once config holds it resolved.
ALTER TABLE tasks ADD COLUMN depends_on TEXT;
ALTER TABLE tasks ADD COLUMN run_if TEXT;
ALTER TABLE tasks ADD COLUMN skip_reason TEXT;
ALTER TABLE tasks ADD COLUMN chain_id TEXT;
ALTER TABLE tasks ADD COLUMN step TEXT;
ALTER TABLE tasks ADD COLUMN config_template TEXT;
CREATE TABLE task_deps (
    child_id  TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    parent_id TEXT NOT NULL,
    PRIMARY KEY (child_id, parent_id)
) WITHOUT ROWID;
CREATE INDEX task_deps_parent ON task_deps (parent_id);
CREATE INDEX tasks_by_chain ON tasks (chain_id, id) WHERE chain_id IS NOT NULL;
-- Chains: named steps submitted together. A step is a task whose chain_id and step name
-- it. canceled_at is set by a cancel of the whole chain.
CREATE TABLE chains (
    id              TEXT PRIMARY KEY,
    name            TEXT,
    failure_policy  TEXT NOT NULL,
    created_at      REAL NOT NULL,
    idempotency_key TEXT UNIQUE,
    canceled_at     REAL
);

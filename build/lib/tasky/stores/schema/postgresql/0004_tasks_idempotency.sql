-- Idempotency keys are unique among the tasks that have one. Most tasks have none: a
-- partial index keeps them out of it, so inserting a task or changing its status (which
-- gives the row a new version, listed again in every index that covers it) skips it.
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_idempotency_key_key;
CREATE UNIQUE INDEX IF NOT EXISTS tasks_idempotency ON tasks (idempotency_key)
    WHERE idempotency_key IS NOT NULL;

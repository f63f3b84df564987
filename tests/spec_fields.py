"""The fields SPEC names in each answer, for the tests that check answers against it (through
Flask's test client and through a real server alike)."""

from __future__ import annotations

WORKER_FIELDS = {
    "name",
    "description",
    "usage",
    "config_objects",
    "parameters",
    "max_num_tasks",
    "enabled",
}
WORKER_STATS_FIELDS = {
    "name",
    "submitted",
    "scheduled",
    "queued",
    "running",
    "completed",
    "failed",
    "canceled",
    "failure_rate",
    "avg_duration",
    "p50_duration",
    "p95_duration",
    "last_finished_at",
}
SUBMITTED_FIELDS = {"task_id", "worker", "status", "execute_at", "created_at"}
ITEM_FIELDS = {
    "task_id",
    "worker",
    "status",
    "created_at",
    "execute_at",
    "started_at",
    "finished_at",
    "duration",
}
RECORD_FIELDS = ITEM_FIELDS | {
    "config",
    "attempts",
    "max_retries",
    "timeout",
    "schedule_id",
    "error",
    "idempotency_key",
}
STATUS_FIELDS = {
    "task_id",
    "status",
    "duration",
    "attempts",
    "execute_at",
    "started_at",
    "finished_at",
}
RESULT_FIELDS = {"task_id", "status", "output", "error"}
TASK_STATS_FIELDS = {"task_id", "attempts", "queued_for", "ran_for", "lateness"}
SCHEDULE_SUBMITTED_FIELDS = {"schedule_id", "worker", "next_run_at", "created_at"}
SCHEDULE_FIELDS = {
    "schedule_id",
    "worker",
    "config",
    "cron",
    "interval",
    "timezone",
    "status",
    "next_run_at",
    "last_run_at",
    "last_task_id",
    "runs",
    "overlap",
    "misfire",
    "start_at",
    "end_at",
    "created_at",
}

"""Request bodies load into the records of ``tasky.requests``, with their one set of
defaults; which fields make a schedule is decided in one place."""

from __future__ import annotations

import pytest

from tasky.api import schemas
from tasky.errors import InvalidInput
from tasky.requests import (
    UNSET,
    BatchRequest,
    ScheduleChanges,
    ScheduleRequest,
    TaskChanges,
    TaskRequest,
    submit_request,
)


def test_an_empty_submit_is_a_task_with_the_defaults():
    request = schemas.SubmitSchema().load({})
    assert request == TaskRequest()
    assert (request.max_retries, request.retry_backoff, request.config) == (0, 1.0, None)


def test_a_submit_with_cron_or_interval_is_a_schedule_with_the_defaults():
    for body in ({"cron": "@daily"}, {"interval": 60}):
        request = schemas.SubmitSchema().load(body)
        assert isinstance(request, ScheduleRequest)
        assert (request.overlap, request.misfire, request.max_retries) == ("skip", "run_once", 0)
        assert request.retry_backoff == 1.0
        assert request.timezone is None  # the service reads TASKY_TIMEZONE


def test_a_submit_loads_instants_as_epoch_seconds():
    request = schemas.SubmitSchema().load({"execute_at": "2030-01-01T00:00:00Z", "timeout": 5})
    assert request == TaskRequest(execute_at=1893456000.0, timeout=5.0)


@pytest.mark.parametrize("field", ["timezone", "start_at", "end_at", "overlap", "misfire"])
def test_a_schedule_option_without_a_trigger_is_refused(field):
    value = {"timezone": "UTC", "overlap": "allow", "misfire": "skip"}.get(field, 1.0)
    with pytest.raises(InvalidInput) as caught:
        submit_request({field: value})
    assert set(caught.value.errors) == {field}


@pytest.mark.parametrize("field", ["execute_at", "delay", "idempotency_key"])
def test_a_task_only_field_on_a_schedule_is_refused(field):
    with pytest.raises(InvalidInput) as caught:
        submit_request({"interval": 60, field: "k" if field == "idempotency_key" else 5.0})
    assert set(caught.value.errors) == {field}


def test_a_batch_loads_into_task_requests():
    batch = schemas.BatchSchema().load({"tasks": [{}, {"delay": 5, "max_retries": 2}]})
    assert batch == BatchRequest([TaskRequest(), TaskRequest(delay=5.0, max_retries=2)])


def test_a_task_patch_keeps_absent_fields_apart_from_null():
    changes = schemas.TaskPatchSchema().load({"timeout": None, "max_retries": 3})
    assert changes == TaskChanges(timeout=None, max_retries=3)
    assert changes.config is UNSET
    assert changes.given() == {"timeout": None, "max_retries": 3}
    assert schemas.TaskPatchSchema().load({}).given() == {}


def test_a_schedule_patch_loads_into_changes():
    changes = schemas.SchedulePatchSchema().load({"end_at": None, "overlap": "allow"})
    assert changes == ScheduleChanges(end_at=None, overlap="allow")
    assert changes.given() == {"end_at": None, "overlap": "allow"}


def test_every_submit_field_is_a_field_of_one_request_kind():
    """The schema and the records agree: nothing a client may send is dropped."""
    declared = set(schemas.SubmitSchema().load_fields)
    task = set(TaskRequest.__dataclass_fields__)
    schedule = set(ScheduleRequest.__dataclass_fields__)
    assert declared == task | schedule

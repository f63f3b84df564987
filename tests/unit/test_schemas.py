import marshmallow as ma
import pytest

from tasky.api import schemas
from tasky.api.schemas import BatchSchema, OptionalFieldsSchema


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


OPTIONAL_FIELDS_SCHEMAS = sorted(set(_subclasses(OptionalFieldsSchema)), key=lambda c: c.__name__)


def test_the_optional_fields_schemas_are_the_request_bodies_of_tasks_and_schedules():
    names = {cls.__name__ for cls in OPTIONAL_FIELDS_SCHEMAS}
    assert {"SubmitSchema", "BatchItemSchema", "TaskPatchSchema", "SchedulePatchSchema"} <= names


@pytest.mark.parametrize("schema_class", OPTIONAL_FIELDS_SCHEMAS, ids=lambda c: c.__name__)
def test_a_partial_load_equals_a_full_one(schema_class):
    """OptionalFieldsSchema loads partial=True (fast: absent fields are not visited). That
    equals a full load only while no field is required or has a load default."""
    for name, field in schema_class().load_fields.items():
        assert not field.required, name
        assert field.load_default is ma.missing, name


def test_a_submit_loads_the_same_partially_and_in_full():
    body = {"delay": 5, "config": {"a": 1}, "max_retries": 2, "idempotency_key": "k"}
    assert schemas.SubmitSchema().load(body) == schemas.SubmitSchema(partial=False).load(body)


def test_batch_items_load_partially_and_in_full_alike():
    items = [
        {},
        {"delay": 5, "config": {"a": 1}},
        {"execute_at": "2030-01-02T03:04:05Z", "max_retries": 2, "idempotency_key": "k"},
    ]
    assert BatchSchema().load({"tasks": items}).tasks == schemas.BatchItemSchema(
        many=True, partial=False
    ).load(items)


def test_a_batch_item_is_still_checked_in_full():
    with pytest.raises(ma.ValidationError) as caught:
        BatchSchema().load({"tasks": [{"delay": -1, "unknown": 1, "max_retries": "2"}]})
    assert set(caught.value.messages["tasks"][0]) == {"delay", "unknown", "max_retries"}

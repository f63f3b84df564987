import marshmallow as ma
import pytest

from tasky.api import schemas
from tasky.api.schemas import BatchSchema, OptionalFieldsSchema
from tasky.requests import ScheduleRequest


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


LEAN_BODIES = [
    {},
    {"delay": 5, "config": {"a": 1}},
    {"delay": 0.5, "timeout": None, "retry_backoff": 2.5},
    {"execute_at": "2030-01-02T03:04:05Z", "max_retries": 2, "idempotency_key": "k"},
    {"execute_at": "2030-01-02T03:04:05", "timeout": 3},
]


def _full_load(schema: ma.Schema, data):
    """The schema's load through marshmallow's whole schema pass, never the lean one."""
    return super(schemas.LeanTaskLoad, schema).load(data)


@pytest.mark.parametrize("body", LEAN_BODIES, ids=str)
def test_a_lean_load_equals_the_full_one(body):
    submit = schemas.SubmitSchema()
    assert submit._lean(body) is not None
    assert submit.load(body) == submit._lean(body) == _full_load(submit, body)
    items = schemas.BatchItemSchema(many=True)
    assert items.load([body, body]) == _full_load(items, [body, body])


@pytest.mark.parametrize(
    "body, wrong",
    [
        ({"delay": -1, "max_retries": "2"}, {"delay", "max_retries"}),
        ({"delay": 1, "execute_at": "2030-01-02T03:04:05Z"}, {"delay", "execute_at"}),
        ({"config": [], "timeout": 0}, {"config", "timeout"}),
        ({"execute_at": "yesterday", "idempotency_key": ""}, {"execute_at", "idempotency_key"}),
    ],
)
def test_a_lean_shaped_body_that_fails_is_worded_by_the_full_load(body, wrong):
    assert schemas.SubmitSchema()._lean(body) is None
    with pytest.raises(ma.ValidationError) as caught:
        schemas.SubmitSchema().load(body)
    assert set(caught.value.messages) == wrong
    with pytest.raises(ma.ValidationError) as caught:
        BatchSchema().load({"tasks": [{}, body]})
    assert set(caught.value.messages["tasks"][1]) == wrong


def test_other_bodies_take_the_full_load():
    assert isinstance(schemas.SubmitSchema().load({"interval": 60}), ScheduleRequest)
    assert schemas.SubmitSchema()._lean({"depends_on": ["a"]}) is None
    with pytest.raises(ma.ValidationError):
        BatchSchema().load({"tasks": [{}, {"cron": "* * * * *"}]})


@pytest.mark.parametrize("schema_class", [schemas.SubmitSchema, schemas.BatchItemSchema])
def test_the_lean_load_knows_every_rule_of_the_schema_beyond_its_fields(schema_class):
    """The lean load applies ``_due`` itself; ``_rule_needs_parents`` and ``_no_schedule`` are
    about fields it leaves to the full load; ``_request`` is its own result. A new rule of the
    schema must be weighed against ``LEAN_FIELDS`` before this list grows."""
    hooks = {name for found in schema_class._hooks.values() for name, *_ in found}
    assert hooks <= {"_due", "_rule_needs_parents", "_no_schedule", "_request"}
    assert set(schema_class().fields) >= schemas.LEAN_FIELDS

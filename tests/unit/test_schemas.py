import marshmallow as ma

from tasky.api.schemas import BatchItemSchema, BatchSchema


def test_batch_items_load_partially_as_they_would_in_full():
    """BatchSchema loads items with partial=True (fast: absent fields are not visited). That
    equals a full load only while no item field is required or has a load default."""
    for name, field in BatchItemSchema().load_fields.items():
        assert not field.required, name
        assert field.load_default is ma.missing, name
    items = [{}, {"delay": 5, "config": {"a": 1}}, {"execute_at": "2030-01-02T03:04:05Z",
                                                    "max_retries": 2, "idempotency_key": "k"}]
    assert BatchSchema().load({"tasks": items})["tasks"] == BatchItemSchema(many=True).load(items)


def test_a_batch_item_is_still_checked_in_full():
    try:
        BatchSchema().load({"tasks": [{"delay": -1, "unknown": 1, "max_retries": "2"}]})
    except ma.ValidationError as exc:
        errors = exc.messages["tasks"][0]
    assert set(errors) == {"delay", "unknown", "max_retries"}

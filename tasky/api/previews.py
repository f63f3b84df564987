"""``GET /tasky/v1/schedules/preview``: the next fire times of a trigger, before saving it."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from tasky.api.body import Blueprint
from tasky.api.context import SCHEDULES_URL, get_service
from tasky.api.fields import Timestamp
from tasky.api.schemas import TriggerSchema
from tasky.previews import MAX_PREVIEW, preview

DEFAULT_COUNT = 10

blp = Blueprint(
    "schedule_preview",
    __name__,
    url_prefix=SCHEDULES_URL,
    description="The next fire times of a cron or interval trigger, computed by the server.",
)


class PreviewQuerySchema(TriggerSchema):
    schedule_id = fields.String(
        metadata={"description": "Preview this schedule, with the other fields changed."}
    )
    count = fields.Integer(
        validate=validate.Range(min=1, max=MAX_PREVIEW),
        metadata={"description": f"How many fire times (default {DEFAULT_COUNT})."},
    )


class FireTimeSchema(ma.Schema):
    at = Timestamp()
    local = fields.String(metadata={"description": "The same instant in the trigger's zone."})


class PreviewSchema(ma.Schema):
    timezone = fields.String()
    fire_times = fields.List(fields.Nested(FireTimeSchema))


@blp.route("/preview")
class SchedulePreview(MethodView):
    @blp.arguments(PreviewQuerySchema(), location="query")
    @blp.response(200, PreviewSchema)
    def get(self, query):
        """The next fire times of a trigger (cron and timezone, or interval and start_at)"""
        return preview(get_service(), query, query.get("count", DEFAULT_COUNT))

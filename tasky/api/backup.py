"""``GET /tasky/v1/export`` and ``POST /tasky/v1/import``: a hot backup of the store as
NDJSON, and its restore.

Both bodies stream: an export is written a chunk at a time from one snapshot, an import read
a line at a time. The import's body has a limit of its own (``TASKY_IMPORT_MAX_BODY``), not
``TASKY_MAX_BODY``: this blueprint does not read whole bodies the way the others do.
"""

from __future__ import annotations

import io

import flask_smorest
import marshmallow as ma
from flask import Response, request
from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema

from tasky.api.context import get_service
from tasky.backup.format import MEDIA_TYPE

IMPORT_TYPES = frozenset(
    {
        "",
        MEDIA_TYPE,
        "application/jsonl",
        "application/json",
        "application/x-www-form-urlencoded",  # what curl --data-binary sends
        "application/octet-stream",
        "text/plain",
    }
)
READ_BUFFER = 1 << 16

blp = flask_smorest.Blueprint(
    "backup",
    __name__,
    url_prefix="/tasky/v1",
    description="Hot backup (a consistent snapshot, taken while the service runs) and restore.",
)


class RejectedLineSchema(ma.Schema):
    line = ma.fields.Integer(metadata={"description": "Line number in the body (1: header)."})
    message = ma.fields.String()


class KindCountsSchema(ma.Schema):
    chains = ma.fields.Integer()
    schedules = ma.fields.Integer()
    tasks = ma.fields.Integer()


class ImportReportSchema(ma.Schema):
    imported = ma.fields.Nested(KindCountsSchema)
    skipped = ma.fields.Nested(
        KindCountsSchema, metadata={"description": "Ids the store held already: left as is."}
    )
    rejected = ma.fields.Integer(metadata={"description": "Lines that did not validate."})
    rejected_lines = ma.fields.List(
        ma.fields.Nested(RejectedLineSchema),
        metadata={"description": "The first 1000 rejected lines, with the reason."},
    )
    recovered = ma.fields.Integer(
        metadata={"description": "Tasks running when the export was taken, back as after a crash."}
    )


@blp.route("/export")
class Export(MethodView):
    @blp.doc(
        responses={
            200: {
                "description": "NDJSON: a header line, then one line per schedule and task.",
                "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
            }
        }
    )
    def get(self):
        """Export every schedule and task, from one consistent snapshot"""
        export = get_service().backup.export()
        response = Response(export.chunks(), mimetype=MEDIA_TYPE)
        response.call_on_close(export.close)
        response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/import")
class Import(MethodView):
    @blp.doc(
        requestBody={
            "required": True,
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
        }
    )
    @blp.response(200, ImportReportSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Not a Tasky export.")
    @blp.alt_response(413, schema=ErrorSchema, description="Over TASKY_IMPORT_MAX_BODY.")
    @blp.alt_response(415, schema=ErrorSchema, description="Not an NDJSON body.")
    @blp.alt_response(422, schema=ErrorSchema, description="An unknown format version.")
    def post(self):
        """Restore an export: into an empty store, or beside what it holds (ids it holds
        already are skipped)"""
        if request.mimetype not in IMPORT_TYPES:
            abort(415, message=f"Content-Type {request.mimetype!r}: send {MEDIA_TYPE}.")
        service = get_service()
        request.max_content_length = service.settings.import_max_body
        stream = request.stream
        if isinstance(stream, io.RawIOBase):  # Werkzeug's limit: its lines one byte at a time
            stream = io.BufferedReader(stream, READ_BUFFER)
        return service.backup.restore(stream)

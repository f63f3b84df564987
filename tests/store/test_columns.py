"""Each table's columns are derived from its model's fields: they must be the table's."""

from __future__ import annotations

import pytest

from tasky.stores.dialect import Dialect
from tasky.stores.rows import RUNNER, SCHEDULE, TASK


@pytest.mark.parametrize(
    ("table", "columns"), [("tasks", TASK), ("schedules", SCHEDULE), ("runners", RUNNER)]
)
def test_a_models_fields_are_its_tables_columns(store, table, columns):
    with store._reader() as db:
        cursor = db.execute(f"SELECT * FROM {table} LIMIT 0")
        stored = {description[0] for description in cursor.description}
    assert set(columns.names) == stored


def test_the_sqlite_dialect_turns_psycopg_marks_into_sqlite3_marks():
    dialect = Dialect(qmark=True, greatest="max", least="min", key_conflict="(k)")
    assert dialect.sql("a = %s AND b = %(now)s OR c = %(now)s") == "a = ? AND b = :now OR c = :now"
    assert Dialect(qmark=False, greatest="", least="", key_conflict="").sql("a = %s") == "a = %s"

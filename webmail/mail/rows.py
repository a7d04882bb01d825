"""Rows a sync writes in bulk, without the ORM's per-value layers.

Django's bulk_create compiles an expression per value: about 200 us a Message row here,
a third of the POP3 writer thread's time and 2 s of a 10,000-message IMAP headers phase
(profiled with cProfile and py-spy, bench/README.md). `RowInsert` builds the statement
once per model and prepares each column the way get_db_prep_save would, calling only
the backend's JSON and date adapters; strings, numbers, booleans and ids go to the
driver as they are. The rows are what bulk_create would write (tested).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, Field, JSONField, Model
from django.utils import timezone

from webmail.mail.text_values import clean_text

# Rows per multi-row INSERT ... RETURNING: a Message row has ~40 columns and SQLite
# builds may cap a statement's parameters at 32,766 (old ones at 999, which Django's
# own batching assumes; this stays under the larger cap only).
RETURNING_ROWS = 100


def clean(value: Any) -> Any:
    """A value the database takes: no lone surrogates (text_values.clean_text), enums
    as values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


class RowInsert:
    """INSERTs into one model's table, built once; values are dicts by attname.

    Columns a row does not set take the field's default, prepared once per call.
    """

    def __init__(self, model: type[Model], *, ignore_conflicts: bool = False) -> None:
        # Every column but an automatic id (a Blob's key is its hash, given here).
        self.fields: list[Field[Any, Any]] = [
            f for f in model._meta.concrete_fields if f is not model._meta.auto_field]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in self.fields)
        # Only our own models' column names, quoted by the backend; values are parameters.
        self._insert = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "  # noqa: S608
        self._marks = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        self._pk = quote(str(model._meta.pk.column))  # type: ignore[union-attr]
        self.sql = (self._insert + self._marks
                    + (" ON CONFLICT DO NOTHING" if ignore_conflicts else ""))

    def rows(self, values: Sequence[dict[str, Any]]) -> list[list[Any]]:
        """Each row's parameters, in the order of `fields`."""
        now = timezone.now()
        constant = {}
        for field in self.fields:
            default = now if getattr(field, "auto_now_add", False) or \
                getattr(field, "auto_now", False) else field.get_default()
            constant[field.attname] = field.get_db_prep_save(default, connection)
        convert = [(f.attname, _adapter(f)) for f in self.fields]
        return [
            [(row[name] if adapt is None else adapt(row[name]))
             if name in row else constant[name]
             for name, adapt in convert]
            for row in values
        ]

    def insert_many(self, values: Sequence[dict[str, Any]]) -> None:
        """One executemany of the statement (ids are not needed)."""
        if values:
            with connection.cursor() as cursor:
                cursor.executemany(self.sql, self.rows(values))

    def insert_returning_ids(self, values: Sequence[dict[str, Any]]) -> list[int]:
        """Insert the rows and return their ids in the order of `values`.

        Multi-row VALUES with RETURNING, as bulk_create does. Neither SQLite nor
        PostgreSQL promises RETURNING's order, but both give a statement's new ids in
        the order its rows are inserted (SQLite: the largest rowid plus one; PostgreSQL:
        the sequence, called per row in VALUES order), so sorted ids match `values`.
        """
        ids: list[int] = []
        rows = self.rows(values)
        with connection.cursor() as cursor:
            for start in range(0, len(rows), RETURNING_ROWS):
                chunk = rows[start:start + RETURNING_ROWS]
                marks = ", ".join([self._marks] * len(chunk))
                cursor.execute(f"{self._insert}{marks} RETURNING {self._pk}",
                               [value for row in chunk for value in row])
                ids.extend(sorted(int(pk) for (pk,) in cursor.fetchall()))
        return ids


def _adapter(field: Field[Any, Any]) -> Callable[[Any], Any] | None:
    """What get_db_prep_save does to this field's values, without its layers (None: the
    value goes to the driver as it is)."""
    ops = connection.ops
    if isinstance(field, JSONField):
        encoder = field.encoder

        def adapt_json(value: Any) -> Any:
            return None if value is None else ops.adapt_json_value(value, encoder)
        return adapt_json
    if isinstance(field, DateTimeField):
        return ops.adapt_datetimefield_value  # type: ignore[no-any-return]
    return None

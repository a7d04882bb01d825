from __future__ import annotations

from django.db import migrations

from webmail.search import schema


def merge_less_often(apps, schema_editor):  # type: ignore[no-untyped-def]
    # SQLite's FTS5 index merges its segments less often (schema.SQLITE_MERGE_SETTINGS);
    # the settings live in the index itself. Nothing changes on PostgreSQL.
    if schema_editor.connection.vendor == "sqlite":
        for statement in schema.SQLITE_MERGE_SETTINGS:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0005_phrase_word_pairs"),
    ]

    operations = [
        migrations.RunPython(merge_less_often, migrations.RunPython.noop),
    ]

from __future__ import annotations

from django.db import migrations

from webmail.search import index_text, schema


def words_not_trigrams(apps, schema_editor):  # type: ignore[no-untyped-def]
    # SQLite's FTS5 table is made again with a word tokenizer (schema.SQLITE_TOKENIZER)
    # and filled from the stored messages. Nothing changes on PostgreSQL.
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.connection.ensure_connection()
    index_text.register(schema_editor.connection.connection)  # the triggers call them
    schema.uninstall(schema_editor, "sqlite")
    schema.install(schema_editor, "sqlite")
    schema.rebuild(schema_editor, "sqlite")


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0006_sqlite_merge_settings"),
    ]

    operations = [
        migrations.RunPython(words_not_trigrams, migrations.RunPython.noop),
    ]

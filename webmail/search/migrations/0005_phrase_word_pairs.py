from __future__ import annotations

from django.db import migrations

from webmail.search import schema


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    # PostgreSQL vectors now carry word pairs (schema.py): every row is built again, or
    # phrase lookups, which go by the pairs, would miss the messages indexed before.
    # The SQLite index does not change.
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema.install(schema_editor, vendor)
        schema.rebuild(schema_editor, vendor)


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0004_sender_trigram_indexes"),
    ]

    operations = [
        migrations.RunPython(install, migrations.RunPython.noop),
    ]

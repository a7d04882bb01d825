from __future__ import annotations

from django.db import migrations

from webmail.search import schema


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Functions, triggers and indexes only: the index rows do not change.
    schema.install(schema_editor, schema_editor.connection.vendor)


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0003_document_account_date"),
    ]

    operations = [
        migrations.RunPython(install, migrations.RunPython.noop),
    ]

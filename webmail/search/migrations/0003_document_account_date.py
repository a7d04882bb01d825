from __future__ import annotations

from django.db import migrations, models

from webmail.search import schema


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    schema.install(schema_editor, vendor)
    schema.rebuild(schema_editor, vendor)


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0002_pending_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="searchdocument",
            name="account_id",
            field=models.BigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="searchdocument",
            name="date",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(install, migrations.RunPython.noop),
    ]

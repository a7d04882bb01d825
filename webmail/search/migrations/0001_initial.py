from __future__ import annotations

import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models

from webmail.search import schema


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Nothing yet: 0003 installs the functions and triggers (schema.py) and indexes the
    # stored messages, once search_search_document has all its columns.
    pass


def uninstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    schema.uninstall(schema_editor, schema_editor.connection.vendor)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("mail", "0002_idle_leases"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchDocument",
            fields=[
                (
                    "message",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="search_document",
                        serialize=False,
                        to="mail.message",
                    ),
                ),
                ("vector", django.contrib.postgres.search.SearchVectorField()),
            ],
            options={"db_table": "search_search_document"},
        ),
        migrations.RunPython(install, uninstall),
    ]

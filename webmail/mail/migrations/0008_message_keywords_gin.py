"""A GIN index on Message.keywords (PostgreSQL only), so a label's message list is an
index lookup (`keywords @> '["kw"]'`) rather than a scan of the person's messages.

SQLite has no JSON containment index; there the label view keeps its text match, which
is what a one-machine mailbox needs.
"""

from django.db import migrations

INDEX = "message_keywords_gin"


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON mail_message "
            "USING gin (keywords jsonb_path_ops)")


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ("mail", "0007_sender_check"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]

from __future__ import annotations

from django.db import migrations

# Every search shows how many of the person's messages still lack a body; without an
# index that count reads every mail_message row (with its text, on SQLite). Partial, so
# it holds only the headers-only rows of a first sync and stays tiny afterwards.


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS search_message_pending ON mail_message (account_id) "
            "WHERE body_state = 'headers'",
            "DROP INDEX IF EXISTS search_message_pending",
        ),
    ]

"""The PostgreSQL search index: one tsvector per message, kept by triggers (schema.py).

On SQLite the index is the FTS5 table `search_fts` instead, and this table stays empty.
No database foreign key: a trigger removes the row when its message goes, which also
lets Django's test flush TRUNCATE mail_message on its own.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchVectorField
from django.db import models

from webmail.mail.models import Message


class SearchDocument(models.Model):
    message = models.OneToOneField(
        Message, on_delete=models.DO_NOTHING, primary_key=True, db_constraint=False,
        related_name="search_document",
    )
    # Copies of the message's, kept by the trigger: the newest matches of a person's
    # accounts come from this table alone.
    account_id = models.BigIntegerField(null=True)
    date = models.DateTimeField(null=True)
    vector = SearchVectorField()

    class Meta:
        db_table = "search_search_document"

    def __str__(self) -> str:
        return f"search document {self.pk}"

"""RowInsert: rows written without bulk_create get the right ids and values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.models import User
from tests.sync.test_imap_headers import inbox_of
from webmail.mail import rows
from webmail.mail.models import BodyState, Message
from webmail.mail.rows import RowInsert, clean

WHEN = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_ids_come_back_in_the_order_of_the_values_over_several_statements(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rows, "RETURNING_ROWS", 7)  # 30 rows: five statements
    folder = inbox_of(alice)
    values = [{"account_id": folder.account_id, "folder_id": folder.pk,
               "subject": f"number {n}", "to": [["Ann", f"ann{n}@example.org"]],
               "internal_date": WHEN, "body_state": BodyState.FULL} for n in range(30)]

    ids = RowInsert(Message).insert_returning_ids(values)

    stored = dict(Message.objects.filter(pk__in=ids).values_list("pk", "subject"))
    assert [stored[pk] for pk in ids] == [f"number {n}" for n in range(30)]
    last = Message.objects.get(pk=ids[-1])
    assert (last.to, last.internal_date, last.body_state) == (
        [["Ann", "ann29@example.org"]], WHEN, "full")
    assert last.is_seen is False  # a column not given takes the field's default


def test_clean_gives_enum_values_and_no_lone_surrogates() -> None:
    assert clean(BodyState.FULL) == "full" and type(clean(BodyState.FULL)) is str
    assert clean("caf\udcc3\udca9") == "café"  # UTF-8 bytes smuggled as surrogates
    assert clean(["ok", "\ud800"]) == ["ok", "\ufffd" * 3]  # one per byte of it


@pytest.mark.django_db
def test_a_model_keyed_by_its_own_value_gets_its_key_and_conflicts_are_skipped() -> None:
    from webmail.mail.models import Blob

    insert = RowInsert(Blob, ignore_conflicts=True)
    insert.insert_many([{"sha256": "a" * 64, "size": 10, "stored_size": 7}])
    insert.insert_many([{"sha256": "a" * 64, "size": 99, "stored_size": 99},
                        {"sha256": "b" * 64, "size": 5, "stored_size": 4}])

    assert list(Blob.objects.order_by("pk").values_list("pk", "size")) == [
        ("a" * 64, 10), ("b" * 64, 5)]
    assert Blob.objects.get(pk="b" * 64).created_at is not None

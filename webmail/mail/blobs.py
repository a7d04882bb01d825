"""Content-addressed, compressed storage of raw messages in the "blobs" storage.

A blob is named by the SHA-256 of its raw bytes, so storing the same message twice
(a resync, the same mail in two folders or accounts) writes it once. Writes are
idempotent: the file is written before its row, and a row whose file exists is final.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db.models import Exists, Model, OuterRef

from webmail.mail import blob_files
from webmail.mail.blob_files import LocalBlobRoot, stored_path
from webmail.mail.models import Blob
from webmail.mail.rows import RowInsert

# Level 1 (blob_files.compress, ISA-L's or zlib's deflate): the sync's throughput matters
# more than the last few percent of disk.
COMPRESSION_LEVEL = blob_files.COMPRESSION_LEVEL


__all__ = ["BlobMissing", "delete_unreferenced", "digest", "exists", "get", "local_root", "put",
           "put_compressed", "put_many", "record_written", "referencing_columns",
           "stored_path"]


class BlobMissing(Exception):
    """The row exists but the storage lost the file (restore from backup)."""


def _storage() -> Storage:
    return storages["blobs"]


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def put(raw: bytes) -> Blob:
    """Store raw bytes (once) and return their Blob row."""
    sha = put_many([raw])[0]
    return Blob.objects.get(pk=sha)


def put_many(raws: Sequence[bytes]) -> list[str]:
    """Store a batch of raw messages (each once); returns their SHA-256 names in order."""
    shas = [digest(raw) for raw in raws]
    existing = set(Blob.objects.filter(pk__in=set(shas)).values_list("pk", flat=True))
    put_compressed(
        (sha, len(raw), blob_files.compress(raw))
        for sha, raw in zip(shas, raws, strict=True)
        if sha not in existing
    )
    return shas


def put_compressed(items: Iterable[tuple[str, int, bytes]]) -> None:
    """Store already compressed blobs (sha256, raw size, zlib bytes), each once.

    One query finds those already stored and one inserts the rest: a sync stores
    hundreds of messages per batch. Compression may have happened elsewhere (the IMAP
    engine compresses in its parsing processes).
    """
    pending = {sha: (size, data) for sha, size, data in items}
    if not pending:
        return
    existing = set(Blob.objects.filter(pk__in=list(pending)).values_list("pk", flat=True))
    storage = _storage()
    made: set[str] = set()
    root = local_root()
    written: list[tuple[str, int, int]] = []
    for sha, (size, compressed) in pending.items():
        if sha in existing:
            continue
        path = stored_path(sha)
        # File first, row second: a row always has its file.
        if root is not None:
            # Storage.save took ~1.5 ms a blob here (exists, name checks, makedirs, an
            # exclusive create; profiled); this is one create and write.
            blob_files.write_file(root, sha, compressed, made)
        elif not storage.exists(path):
            # One request, not one per name (`exists`): blobs with rows were skipped
            # above, so a file under the old name here is a crash's leftover, and
            # writing it again under the new one costs only its space.
            storage.save(path, ContentFile(compressed))
        written.append((sha, size, len(compressed)))
    record_written(written)


def local_root() -> LocalBlobRoot | None:
    """The blob directory when blobs live on a local disk (other processes of the same
    machine may then write files themselves; see blob_files), None otherwise."""
    storage = _storage()
    if not isinstance(storage, FileSystemStorage):
        return None
    return LocalBlobRoot(location=str(storage.location),
                         file_mode=storage.file_permissions_mode,
                         directory_mode=storage.directory_permissions_mode)


def record_written(items: Iterable[tuple[str, int, int]]) -> None:
    """Rows for blobs whose files a parsing process already wrote (sha256, raw size,
    stored size): the file is first there as put_compressed writes it, the row second."""
    RowInsert(Blob, ignore_conflicts=True).insert_many(
        [{"sha256": sha, "size": size, "stored_size": stored} for sha, size, stored in items])


def get(sha256: str) -> bytes:
    storage = _storage()
    for path in blob_files.paths(sha256):
        try:
            with storage.open(path, "rb") as handle:
                return zlib.decompress(handle.read())
        except FileNotFoundError:
            continue
    raise BlobMissing(sha256)


def exists(sha256: str) -> bool:
    """Whether the storage holds the blob's file, under its current or legacy name."""
    storage = _storage()
    return any(storage.exists(path) for path in blob_files.paths(sha256))


def delete_unreferenced(candidates: Iterable[str] | None = None) -> int:
    """Remove blobs no row points at any more (among candidates, or all); returns how many.

    The row goes first, then the file: a crash in between leaves a file without a row,
    which put() reuses and a later sweep removes, never a row without its file.
    """
    orphans = Blob.objects.all()
    for model, column in referencing_columns():
        orphans = orphans.filter(
            ~Exists(model._default_manager.filter(**{column: OuterRef("pk")}))
        )
    if candidates is not None:
        orphans = orphans.filter(pk__in=list(candidates))
    removed = 0
    storage = _storage()
    for sha in orphans.values_list("pk", flat=True).iterator():
        Blob.objects.filter(pk=sha).delete()
        for path in blob_files.paths(sha):
            storage.delete(path)
        removed += 1
    return removed


def referencing_columns() -> list[tuple[type[Model], str]]:
    """Every foreign key to Blob in the project (messages, outbox, drafts...)."""
    # include_hidden: references declared with related_name="+" count too.
    return [
        (field.related_model, field.field.name)  # type: ignore[union-attr,misc]
        for field in Blob._meta.get_fields(include_hidden=True)
        if field.auto_created and not field.concrete and (field.one_to_many or field.one_to_one)
    ]

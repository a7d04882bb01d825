"""Blob compression: a faster deflate (ISA-L) that writes the format the stdlib reads, so
blobs written before (stdlib zlib, any level) and after read back alike."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from bench.generator import generate_mailbox
from webmail.mail import blob_files, blobs
from webmail.mail.blob_files import stored_path


def test_compressed_blobs_are_plain_zlib_streams() -> None:
    for raw in generate_mailbox(30, seed=3):
        packed = blob_files.compress(raw)
        assert zlib.decompress(packed) == raw
        assert len(packed) < len(raw)


def test_the_fast_codec_is_in_use_when_installed() -> None:
    pytest.importorskip("isal.isal_zlib")
    assert blob_files.CODEC == "isal"


@pytest.mark.django_db
def test_blobs_written_by_the_old_codec_and_the_new_read_back_alike() -> None:
    old, new = list(generate_mailbox(2, seed=4))
    # A blob file as the stdlib wrote it before (level 6 even: any level reads back).
    sha_old = blobs.digest(old)
    root = blobs.local_root()
    assert root is not None
    path = Path(root.location, stored_path(sha_old))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zlib.compress(old, 6))
    blobs.record_written([(sha_old, len(old), path.stat().st_size)])
    sha_new = blobs.put(new).sha256
    assert blobs.get(sha_old) == old
    assert blobs.get(sha_new) == new


@pytest.mark.django_db
def test_new_blobs_lie_one_directory_deep() -> None:
    raw = next(iter(generate_mailbox(1, seed=5)))
    sha = blobs.put(raw).sha256
    root = blobs.local_root()
    assert root is not None
    files = [p.relative_to(root.location) for p in Path(root.location).rglob(f"{sha}.z")]
    assert files == [Path(sha[:2], f"{sha}.z")]


@pytest.mark.django_db
def test_blobs_in_the_two_level_layout_of_before_are_read_checked_and_removed() -> None:
    from webmail.backup import count_missing_blobs

    raw = next(iter(generate_mailbox(1, seed=6)))
    sha = blobs.digest(raw)
    root = blobs.local_root()
    assert root is not None
    legacy = Path(root.location, blob_files.legacy_path(sha))
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_bytes(blob_files.compress(raw))
    blobs.record_written([(sha, len(raw), legacy.stat().st_size)])

    assert blobs.get(sha) == raw
    assert blobs.exists(sha)
    assert count_missing_blobs() == 0
    # Stored again (another account, the same mail): no second copy is written.
    assert blobs.put_many([raw]) == [sha]
    blob_files.write_file(root, sha, blob_files.compress(raw))
    assert not Path(root.location, stored_path(sha)).exists()

    assert blobs.delete_unreferenced([sha]) == 1
    assert not legacy.exists()
    with pytest.raises(blobs.BlobMissing):
        blobs.get(sha)

"""blob_files.write_file on a real directory: files written whole, once, with their mode;
a part left by a killed writer is replaced, never taken as the blob."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from webmail.mail.blob_files import LocalBlobRoot, compress, stored_path, write_file

DATA = compress(b"Subject: x\r\n\r\n" + b"body line\r\n" * 500)
SHA = "ab" + "0" * 62


def test_a_blob_is_written_whole_with_the_storage_mode(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)  # a stricter umask must not change the mode given
    try:
        write_file(LocalBlobRoot(str(tmp_path), file_mode=0o640), SHA, DATA)
    finally:
        os.umask(old_umask)
    path = tmp_path / stored_path(SHA)
    assert path.read_bytes() == DATA
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert list(tmp_path.rglob("*.tmp")) == []


def test_a_whole_file_is_left_alone(tmp_path: Path) -> None:
    root = LocalBlobRoot(str(tmp_path))
    write_file(root, SHA, DATA)
    path = tmp_path / stored_path(SHA)
    before = path.stat()
    write_file(root, SHA, DATA)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_part_left_by_a_killed_writer_is_replaced_whole(tmp_path: Path) -> None:
    root = LocalBlobRoot(str(tmp_path))
    path = tmp_path / stored_path(SHA)
    path.parent.mkdir(parents=True)
    path.write_bytes(DATA[:100])  # created, then killed mid-write
    write_file(root, SHA, DATA)
    assert path.read_bytes() == DATA
    assert list(tmp_path.rglob("*.tmp")) == []

"""Blob files on a local disk, without Django: shared by webmail.mail.blobs and the
sync's parsing processes (webmail.sync.imap_prepare), which write each message's file
where it was compressed instead of sending the bytes back to the engine (profiled: the
file writes were a fifth of the engine's time in a first sync, bench/README.md)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

_deflate: Callable[[bytes, int], bytes]
try:  # ISA-L's deflate: the same zlib format, ~6x faster than zlib at level 1 (see compress)
    from isal.isal_zlib import compress as _deflate

    CODEC = "isal"
except ImportError:  # pragma: no cover - isal is in requirements.txt; zlib is the fallback
    from zlib import compress as _deflate

    CODEC = "zlib"

# Level 1 of either: mail compresses to ~58% (base64 attachments are most of the bytes).
COMPRESSION_LEVEL = 1


def compress(raw: bytes) -> bytes:
    """A blob's stored bytes: a zlib stream, which `zlib.decompress` reads whoever wrote it.

    ISA-L (the `isal` package) writes the same zlib format as the stdlib at level 1 in
    about a sixth of the CPU time on generated mail (0.11 against 0.67 ms a 30 KB message,
    ratio 0.578 against 0.586; measured, bench/README.md): blobs written before and after
    are read alike, and without isal the stdlib writes them as before.
    """
    return _deflate(raw, COMPRESSION_LEVEL)


def stored_path(sha256: str) -> str:
    """The blob's name in the "blobs" storage: one level of 256 directories.

    Two levels (65,536 directories, `legacy_path`) meant a new directory for nearly
    every message of a first sync, and on ext4 here a mkdir cost as much as the file's
    own creation (0.5 ms each; bench/README.md). At a million messages one level holds
    ~4,000 files a directory, which ext4's hashed directories look up as fast.
    """
    return f"{sha256[:2]}/{sha256}.z"


def legacy_path(sha256: str) -> str:
    """Where blobs written before December 2026 are: readers look there second."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.z"


def paths(sha256: str) -> tuple[str, str]:
    """Every name the blob may have, the current one first."""
    return stored_path(sha256), legacy_path(sha256)


@dataclass(frozen=True)
class LocalBlobRoot:
    """Where a FileSystemStorage keeps blobs, and the modes it creates them with."""

    location: str
    file_mode: int | None = None
    directory_mode: int | None = None


def write_file(root: LocalBlobRoot, sha256: str, data: bytes,
               made: set[str] | None = None) -> None:
    """Write one blob's compressed bytes unless a whole file is there already.

    The file is created under its final name (O_EXCL) and written in one call: a
    temporary file renamed into place cost a second directory change per message, a
    third of the file's cost here (a /tmp script, bench/README.md). A process killed
    between create and write leaves a shorter file; the next writer of that blob finds
    it by its size and replaces it whole (a temporary file renamed over it). A blob's row
    is only written after its writer finished the file, so no row points at a part.
    """
    path, legacy = (os.path.join(root.location, name) for name in paths(sha256))
    if os.path.exists(legacy):
        return
    directory = os.path.dirname(path)
    if made is None or directory not in made:
        os.makedirs(directory, mode=root.directory_mode or 0o777, exist_ok=True)
        if made is not None:
            made.add(directory)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, root.file_mode or 0o666)
    except FileExistsError:
        if os.path.getsize(path) != len(data):
            _replace(root, path, data)
        return
    # A failed write leaves its part (size-checked as above), never removed here: a
    # writer that found it short may have renamed a whole file over it meanwhile.
    try:
        if root.file_mode is not None:
            os.fchmod(handle, root.file_mode)  # exactly this mode, whatever the umask
        _write_all(handle, data)
    finally:
        os.close(handle)


def _replace(root: LocalBlobRoot, path: str, data: bytes) -> None:
    """The whole file put in place at once, over a part some killed writer left."""
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
        if root.file_mode is not None:
            os.chmod(temporary, root.file_mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _write_all(handle: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(handle, view):]

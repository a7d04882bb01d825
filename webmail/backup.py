"""Backup and restore of the store: the database with its own tools, then the blobs.

A backup is a directory:

    manifest.json      engine, time, counts (what restore checks against)
    database.dump      PostgreSQL: pg_dump's custom format (pg_restore reads it)
    database.sqlite3   SQLite: a copy made with SQLite's online backup API
    blobs/             the blob files, as laid out on disk (when blobs are on disk)

The database goes first and the blobs second: a blob's file is always written before
its row (mail.blobs), so every row in the dump has its file by the time the files are
copied. Blobs in S3 are not copied here; the bucket is backed up on its own
(docs/operations.md). The credential keys are never written into a backup: without
WEBMAIL_CREDENTIAL_KEYS (or data/credential_key) a restored database keeps messages but
cannot decrypt the upstream passwords.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.files.storage import FileSystemStorage, storages
from django.db import connections

MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
BLOBS = "blobs"
FORMAT = 1


class BackupError(Exception):
    """The backup or restore cannot go on (message says why and what to do)."""


@dataclass(frozen=True)
class Manifest:
    format: int
    engine: str  # "postgresql" or "sqlite"
    created_at: str
    blob_rows: int
    blob_files: int | None  # None when blobs are not on the local disk


@dataclass(frozen=True)
class RestoreReport:
    blob_rows: int
    blob_files_copied: int
    blobs_missing: int


def _engine(alias: str = "default") -> str:
    vendor = connections[alias].vendor
    if vendor not in ("postgresql", "sqlite"):
        raise BackupError(f"no backup procedure for the {vendor} database")
    return vendor


def _pg_environment(settings_dict: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """libpq connection arguments and environment (the password never goes in argv)."""
    args = ["--dbname", str(settings_dict["NAME"])]
    if settings_dict.get("HOST"):
        args += ["--host", str(settings_dict["HOST"])]
    if settings_dict.get("PORT"):
        args += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        args += ["--username", str(settings_dict["USER"])]
    environment = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        environment["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    return args, environment


def _run(command: list[str], environment: dict[str, str]) -> None:
    result = subprocess.run(command, env=environment, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()}")


def _blob_root() -> Path | None:
    storage = storages["blobs"]
    if isinstance(storage, FileSystemStorage):
        return Path(storage.location)
    return None


def _blob_row_count() -> int:
    from webmail.mail.models import Blob

    return Blob.objects.count()


def backup(destination: Path) -> Manifest:
    """Write a backup of the database and the local blobs into an empty directory."""
    destination.mkdir(parents=True, exist_ok=True)
    if any(destination.iterdir()):
        raise BackupError(f"{destination} is not empty: back up into a new directory")
    engine = _engine()
    settings_dict = connections["default"].settings_dict
    if engine == "postgresql":
        args, environment = _pg_environment(settings_dict)
        # Custom format: compressed, and pg_restore can restore it into any database.
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
              "--file", str(destination / PG_DUMP), *args], environment)
    else:
        source = sqlite3.connect(str(settings_dict["NAME"]))
        target = sqlite3.connect(str(destination / SQLITE_COPY))
        try:
            # The online backup API: a consistent copy while workers keep writing.
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
    blob_files: int | None = None
    root = _blob_root()
    if root is not None:
        blob_files = _copy_tree(root, destination / BLOBS)
    manifest = Manifest(format=FORMAT, engine=engine,
                        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                        blob_rows=_blob_row_count(), blob_files=blob_files)
    (destination / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


def _copy_tree(source: Path, target: Path) -> int:
    """Copy blob files that the target lacks (names are content hashes); returns how many."""
    copied = 0
    if not source.exists():
        return 0
    for path in source.rglob("*"):
        if not path.is_file():
            continue
        destination = target / path.relative_to(source)
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        copied += 1
    return copied


def read_manifest(source: Path) -> Manifest:
    try:
        data = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise BackupError(f"{source} holds no {MANIFEST}: not a backup") from exc
    if data.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {data.get('format')!r}")
    return Manifest(**data)


def _database_is_empty() -> bool:
    with connections["default"].cursor() as cursor:
        return "django_migrations" not in connections["default"].introspection.table_names(
            cursor)


def restore(source: Path) -> RestoreReport:
    """Restore a backup into the configured (empty) database and blob storage."""
    manifest = read_manifest(source)
    engine = _engine()
    if manifest.engine != engine:
        raise BackupError(f"the backup is of a {manifest.engine} database, the configured "
                          f"one is {engine}")
    if not _database_is_empty():
        raise BackupError("the configured database is not empty: restore into a new one")
    connection = connections["default"]
    settings_dict = connection.settings_dict
    connection.close()
    if engine == "postgresql":
        args, environment = _pg_environment(settings_dict)
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
              *args, str(source / PG_DUMP)], environment)
    else:
        backup_copy = sqlite3.connect(str(source / SQLITE_COPY))
        target = sqlite3.connect(str(settings_dict["NAME"]))
        try:
            with target:
                backup_copy.backup(target)
        finally:
            target.close()
            backup_copy.close()
    copied = 0
    root = _blob_root()
    if root is not None and (source / BLOBS).exists():
        copied = _copy_tree(source / BLOBS, root)
    return RestoreReport(blob_rows=_blob_row_count(), blob_files_copied=copied,
                         blobs_missing=count_missing_blobs())


def count_missing_blobs() -> int:
    """Blob rows whose file the blob storage does not hold (checks every row)."""
    from webmail.mail.blobs import exists
    from webmail.mail.models import Blob

    return sum(1 for sha in Blob.objects.values_list("pk", flat=True).iterator()
               if not exists(sha))

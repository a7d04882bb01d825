"""`restore DIR`: a backup made by `backup`, into an empty database and blob storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webmail.backup import BackupError, restore


class Command(BaseCommand):
    help = "Restore a backup into the configured database (which must be empty) and blobs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="A directory written by `backup`.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = restore(options["directory"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Restored {report.blob_rows} blobs "
                          f"({report.blob_files_copied} files copied).")
        if report.blobs_missing:
            raise CommandError(f"{report.blobs_missing} blobs have no file in the blob "
                               "storage: restore the bucket or the blob files too.")

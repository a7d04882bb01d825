"""`backup DIR`: the database (pg_dump or SQLite's backup API), then the blob files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webmail.backup import BackupError, backup


class Command(BaseCommand):
    help = "Back up the database and the local blob files into a new directory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="A new or empty directory.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = backup(options["directory"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        files = ("not on local disk: back up the bucket" if manifest.blob_files is None
                 else f"{manifest.blob_files} blob files")
        self.stdout.write(f"Backed up the {manifest.engine} database ({manifest.blob_rows} "
                          f"blobs) and {files} into {options['directory']}.")

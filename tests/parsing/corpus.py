"""Where the shared MIME corpus lives, for the parsing tests (skips when absent)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest


def corpus_root() -> Path:
    configured = os.environ.get("WEBMAIL_CORPUS")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "shared" / "corpus"


def corpus_files() -> list[Path]:
    root = corpus_root() / "mime"
    if not root.is_dir():
        return []
    return sorted(path for path in root.rglob("*") if path.is_file())


def manifest() -> dict[str, dict[str, str]]:
    path = corpus_root() / "MANIFEST.tsv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["path"]: row for row in csv.DictReader(handle, delimiter="\t")}


def read(relative: str) -> bytes:
    path = corpus_root() / "mime" / relative
    if not path.is_file():
        pytest.skip(f"corpus file {relative} not available")
    return path.read_bytes()

"""Blobs in an S3-compatible bucket, switched on by configuration only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from django.conf import settings
from django.test import override_settings

from tests.operations.conftest import ROOT
from webmail.mail import blobs

BUCKET = "webmail-blobs"
RAW = (b"From: carol@example.test\r\nTo: alice@example.test\r\nSubject: Kept in S3\r\n"
       b"Message-ID: <s3-1@example.test>\r\n\r\nThe raw bytes, exactly.\r\n")


def blob_storage_from_environment(endpoint: str) -> dict[str, Any]:
    """STORAGES["blobs"] as settings.py builds it from the documented variables."""
    environment = {**os.environ, "WEBMAIL_BLOB_STORAGE": "s3", "WEBMAIL_S3_BUCKET": BUCKET,
                   "WEBMAIL_S3_ENDPOINT_URL": endpoint, "WEBMAIL_S3_REGION": "us-east-1",
                   "WEBMAIL_S3_PREFIX": "mail"}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    code = ("import json; from webmail import settings; "
            "print(json.dumps(settings.STORAGES['blobs']))")
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                            capture_output=True, text=True, check=True, timeout=60).stdout
    config: dict[str, Any] = json.loads(output)
    return config


@pytest.fixture
def s3_blobs(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    config = blob_storage_from_environment(s3_endpoint)
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    with override_settings(STORAGES={**settings.STORAGES, "blobs": config}):
        yield client
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    for item in listed:
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_a_blob_put_through_the_storage_lands_in_the_bucket_and_reads_back(
        db: None, s3_blobs: Any) -> None:
    blob = blobs.put(RAW)

    key = f"mail/{blobs.stored_path(blob.sha256)}"
    held = s3_blobs.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert zlib.decompress(held) == RAW
    assert blobs.get(blob.sha256) == RAW


def test_the_same_message_twice_is_one_object(db: None, s3_blobs: Any) -> None:
    blobs.put_many([RAW, RAW])
    blobs.put(RAW)

    listed = s3_blobs.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert len(listed) == 1


def test_an_object_lost_from_the_bucket_is_reported_missing(db: None, s3_blobs: Any) -> None:
    blob = blobs.put(RAW)
    s3_blobs.delete_object(Bucket=BUCKET, Key=f"mail/{blobs.stored_path(blob.sha256)}")

    with pytest.raises(blobs.BlobMissing):
        blobs.get(blob.sha256)


def test_an_unreferenced_blob_is_removed_from_the_bucket(db: None, s3_blobs: Any) -> None:
    blob = blobs.put(RAW)

    assert blobs.delete_unreferenced([blob.sha256]) == 1
    assert "Contents" not in s3_blobs.list_objects_v2(Bucket=BUCKET)

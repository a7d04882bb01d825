"""Test settings: the real ones, over plain http, with a throwaway data directory."""

import os
import tempfile

os.environ.setdefault("WEBMAIL_HTTPS", "false")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("WEBMAIL_DATA_DIR", tempfile.mkdtemp(prefix="webmail-test-"))

from webmail.settings import *  # noqa: E402,F403  (test settings extend the real ones)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
WEBMAIL_ALLOW_PRIVATE_HOSTS = True  # the test servers are on loopback
# No collectstatic before tests: plain storage, no manifest.
STORAGES = {**STORAGES, "staticfiles": {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_AUTOREFRESH = True
# Each test session gets its own broker queues, so a worker in one test run never
# takes tasks queued by another run (or by `make run`) on the same Redis.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "global_keyprefix": f"webmail-test-{os.getpid()}-",
}
# A file, not SQLite's shared-cache memory database: the Celery worker thread and the
# test share it, and shared-cache table locks fail at once ("database table is locked")
# instead of waiting like file locks do (WAL and the busy timeout apply to a file).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(os.environ["WEBMAIL_DATA_DIR"], "test.sqlite3")}

"""Settings for the worker and IDLE supervisor processes the fault suite starts.

They are the test settings, pointed at the test run's own database (pytest-django's
test database, named in WEBMAIL_FAULTS_DB_NAME) and broker queues (the test process's
key prefix, WEBMAIL_FAULTS_KEYPREFIX), with short timers so recovery after a fault is
seen in seconds instead of minutes.
"""

import os

from tests.settings import *  # noqa: F403  (the processes extend the test settings)

DATABASES["default"]["NAME"] = os.environ["WEBMAIL_FAULTS_DB_NAME"]  # noqa: F405
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "global_keyprefix": os.environ["WEBMAIL_FAULTS_KEYPREFIX"],  # type: ignore[dict-item]
}
WEBMAIL_EXTRA_CA_FILE = os.environ.get("WEBMAIL_FAULTS_CA_FILE", "")
WEBMAIL_UNDO_SECONDS = 0
WEBMAIL_SEND_RETRY_BASE_SECONDS = 0.3
WEBMAIL_SEND_RETRY_MAX_SECONDS = 1
WEBMAIL_SMTP_TIMEOUT = 10
# A worker killed with -9 leaves its claims behind; these are how long they last.
WEBMAIL_SEND_STALE_SECONDS = 5
WEBMAIL_SENT_COPY_GRACE_SECONDS = 2
WEBMAIL_SYNC_LEASE_SECONDS = 6

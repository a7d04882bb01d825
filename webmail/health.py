"""GET /healthz: 200 when the database and the broker answer, 503 naming what failed."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

BROKER_TIMEOUT = 2.0


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return bool(cursor.fetchone() == (1,))
    except DatabaseError:
        return False


def _broker_ok() -> bool:
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_connect_timeout=BROKER_TIMEOUT,
        socket_timeout=BROKER_TIMEOUT,
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def failing_dependencies() -> list[str]:
    """The names of the services that do not answer ("database", "broker")."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    return [name for name, ok in checks.items() if not ok]


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    failed = failing_dependencies()
    body = {"status": "ok" if not failed else "fail", "failed": failed}
    return JsonResponse(body, status=200 if not failed else 503)

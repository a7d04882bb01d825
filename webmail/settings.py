"""Settings, all from the environment, with working defaults for one machine.

Embedded defaults: SQLite and blobs under WEBMAIL_DATA_DIR, Redis at REDIS_URL, a
SECRET_KEY and credential keys generated into the data directory on first run.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
from celery.schedules import crontab
from cryptography.fernet import Fernet

# Lets ModelForm[...] and friends be subscripted at run time (typing only).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = Path(env.str("WEBMAIL_DATA_DIR", default=str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _kept_secret(name: str, make: str) -> str:
    """Read a secret kept in the data directory, creating it (mode 0600) on first run."""
    path = DATA_DIR / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _kept_secret(
    "secret_key", secrets.token_urlsafe(50)
)
# Old secret keys, still accepted for sessions and signed links while a new key rolls out.
SECRET_KEY_FALLBACKS: list[str] = env.list("SECRET_KEY_FALLBACKS", default=[])
# Fernet keys for upstream credentials: the first encrypts, all decrypt (rotation).
CREDENTIAL_KEYS: list[str] = env.list("WEBMAIL_CREDENTIAL_KEYS", default=[]) or [
    _kept_secret("credential_key", Fernet.generate_key().decode())
]

DEBUG = env.bool("DEBUG", default=False)
# Plain http is only for a local run on loopback (the README's run command sets it).
HTTPS = env.bool("WEBMAIL_HTTPS", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "webmail.mail",
    "webmail.compose",
    "webmail.search",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "webmail.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.FirstRunMiddleware",
    "accounts.middleware.TwoFactorMiddleware",
    # Last, as django-axes asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "webmail.urls"
WSGI_APPLICATION = "webmail.wsgi.application"
ASGI_APPLICATION = "webmail.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'webmail.sqlite3'}"
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; a busy timeout instead of
    # "database is locked" under concurrent writers.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Webmail")
# Password reset and invitations go out through the system SMTP account, e.g.
# EMAIL_URL=smtp+tls://user:password@smtp.example.com:587 (printed to the console if unset).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmail@localhost")
EMAIL_TIMEOUT = 10
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: five failures per username and address lock it for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)

LANGUAGE_CODE = "en-us"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
BLOB_ROOT = Path(env.str("WEBMAIL_BLOB_ROOT", default=str(DATA_DIR / "blobs")))
# Raw messages go to the local disk by default, or to an S3-compatible bucket with
# WEBMAIL_BLOB_STORAGE=s3 (docs/operations.md). Credentials come from boto3's usual
# chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, an instance role...).
BLOB_STORAGE = env.str("WEBMAIL_BLOB_STORAGE", default="filesystem")
BLOB_STORAGE_CONFIG: dict[str, object] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(BLOB_ROOT), "file_permissions_mode": 0o600},
}
if BLOB_STORAGE == "s3":
    BLOB_STORAGE_CONFIG = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("WEBMAIL_S3_BUCKET"),
            "endpoint_url": env.str("WEBMAIL_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("WEBMAIL_S3_REGION", default="") or None,
            "location": env.str("WEBMAIL_S3_PREFIX", default="blobs"),
            # Blobs are content-addressed: the same name is the same bytes, so a
            # rewrite is harmless and never needs a new name.
            "file_overwrite": True,
            "default_acl": None,
            "querystring_auth": False,
        },
    }
elif BLOB_STORAGE != "filesystem":
    raise ValueError(f"WEBMAIL_BLOB_STORAGE must be filesystem or s3, not {BLOB_STORAGE!r}")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "blobs": BLOB_STORAGE_CONFIG,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = HTTPS and env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# Only matters once the site is submitted to the preload list; off by SECURE_HSTS_PRELOAD=false.
SECURE_HSTS_PRELOAD = HTTPS and env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("WEBMAIL_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SILENCED_SYSTEM_CHECKS = [] if HTTPS else ["security.W004", "security.W008", "security.W012",
                                           "security.W016"]
# Upstream hosts on private, loopback or link-local addresses are refused unless allowed
# (no SSRF through a mail account's host name).
WEBMAIL_ALLOW_PRIVATE_HOSTS = env.bool("WEBMAIL_ALLOW_PRIVATE_HOSTS", default=False)
# How long the connection check waits for an upstream server, in seconds.
WEBMAIL_CHECK_TIMEOUT = env.float("WEBMAIL_CHECK_TIMEOUT", default=8.0)
# How long an account stays claimed by a sync without renewal, so also how long it
# waits after a worker died in the middle of one (renewed between batches).
WEBMAIL_SYNC_LEASE_SECONDS = env.int("WEBMAIL_SYNC_LEASE_SECONDS", default=600)
# OAuth2 accounts: renew an access token this many seconds before it expires.
WEBMAIL_OAUTH_REFRESH_MARGIN_SECONDS = env.int("WEBMAIL_OAUTH_REFRESH_MARGIN_SECONDS",
                                               default=120)
# Largest file accepted by "import mail" (mbox, zip of .eml).
WEBMAIL_MAX_IMPORT_BYTES = env.int("WEBMAIL_MAX_IMPORT_BYTES", default=512 * 1024 * 1024)
# Extra CA bundle (PEM) trusted for upstream TLS, in addition to the system store.
WEBMAIL_EXTRA_CA_FILE = env.str("WEBMAIL_EXTRA_CA_FILE", default="")

# --- Celery ---------------------------------------------------------------------------
# The longest task is a batch of a sync, bounded by CELERY_TASK_TIME_LIMIT; the
# visibility timeout must be longer or Redis redelivers a task that is still running.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_VISIBILITY_TIMEOUT = 2 * 60 * 60
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_VISIBILITY_TIMEOUT_SETTING = CELERY_VISIBILITY_TIMEOUT
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Beat touches this file on every tick (every 15 s at most), so its health check can
# tell a stuck beat by the file's age (manage.py healthcheck --fresh-file).
CELERY_BEAT_SCHEDULER = "webmail.beat.HeartbeatScheduler"
BEAT_HEARTBEAT_FILE = DATA_DIR / "beat-heartbeat"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "ping": {"task": "webmail.tasks.ping", "schedule": crontab(minute="*/5")},
    "poll-due-accounts": {"task": "webmail.sync.tasks.poll_due_accounts", "schedule": 60.0},
    # Scheduled sends and far retries wait in the database, not in long Celery ETAs.
    "dispatch-due-outbox": {"task": "webmail.compose.tasks.dispatch_due", "schedule": 15.0},
    # Fallback for queued upstream operations (actions queue their own replay at once).
    "replay-due-operations": {
        "task": "webmail.sync.tasks_operations.replay_due_operations", "schedule": 60.0},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "webmail.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            # LOG_FORMAT=json for production log collectors.
            "formatter": env.str("LOG_FORMAT", default="plain"),
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Never log request bodies: they may carry passwords.
        "django.request": {"level": "ERROR"},
        # django-axes logs every login at INFO; failures and lockouts are WARNING.
        "axes": {"level": "WARNING"},
    },
}

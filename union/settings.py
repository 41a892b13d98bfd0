"""Tessera settings: one module, driven by environment variables.

With no environment set, Tessera runs in development mode on embedded defaults: SQLite, the
in-memory channel layer, the console email backend, and data keys kept in an ignored file
(`.local/dev-keys.json`, created on first use). In production mode (`TESSERA_ENV=production`) it
refuses to start while the secret key, the data keys or the allowed hosts are missing.
README.md lists every variable.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
ENV = os.environ.get("TESSERA_ENV", "development").strip().lower()
if ENV not in ("development", "production"):
    raise ImproperlyConfigured("TESSERA_ENV must be 'development' or 'production'.")
PRODUCTION = ENV == "production"


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _dev_keys() -> dict[str, str]:
    """Development keys, created once in an ignored file so data stays readable across runs."""
    path = Path(os.environ.get("TESSERA_KEYS_FILE", BASE_DIR / ".local" / "dev-keys.json"))
    if path.exists():
        return json.loads(path.read_text())

    def b64() -> str:
        return base64.b64encode(secrets.token_bytes(32)).decode()

    keys = {
        "secret_key": secrets.token_urlsafe(50),
        "data_keys": f"dev1:{b64()}",
        "blind_index_key": b64(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=2))
    path.chmod(0o600)
    return keys


_missing = [
    name
    for name in ("TESSERA_SECRET_KEY", "TESSERA_DATA_KEYS", "TESSERA_BLIND_INDEX_KEY", "TESSERA_ALLOWED_HOSTS")
    if not os.environ.get(name, "").strip()
]
if PRODUCTION and _missing:
    raise ImproperlyConfigured(
        "Tessera refuses to start in production without: "
        + ", ".join(_missing)
        + ". See the environment table in README.md; `manage.py generate_keys` prints new keys."
    )
_dev = {} if PRODUCTION or not _missing else _dev_keys()

SECRET_KEY = os.environ.get("TESSERA_SECRET_KEY") or _dev["secret_key"]
# Sessions, password-reset and confirmation links are signed with it: a short or repetitive key
# can be guessed offline from one signed value. Django only warns (security.W009); we refuse.
SECRET_KEY_MIN_LENGTH = 50
if PRODUCTION and (len(SECRET_KEY.strip()) < SECRET_KEY_MIN_LENGTH or len(set(SECRET_KEY)) < 5
                   or SECRET_KEY.startswith("django-insecure-")):
    raise ImproperlyConfigured(
        f"TESSERA_SECRET_KEY must be at least {SECRET_KEY_MIN_LENGTH} random characters in production; "
        "`manage.py generate_keys` prints one."
    )
# "kid:base64key,kid:base64key": the first is the primary key, used to encrypt; the others still
# decrypt, so keys can be rotated with `manage.py rotate_data_keys`.
TESSERA_DATA_KEYS = os.environ.get("TESSERA_DATA_KEYS") or _dev["data_keys"]
TESSERA_BLIND_INDEX_KEY = os.environ.get("TESSERA_BLIND_INDEX_KEY") or _dev["blind_index_key"]
# A malformed key stops the start, with a message naming it, not the first request that encrypts.
from union.crypto import validate_keys  # noqa: E402

validate_keys(TESSERA_DATA_KEYS, TESSERA_BLIND_INDEX_KEY)

DEBUG = _env_bool("TESSERA_DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("TESSERA_DEBUG must not be on in production.")
ALLOWED_HOSTS = _env_list("TESSERA_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = _env_list("TESSERA_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "guardian",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "union",
    "membership",
    "grievances",
    "messaging",
    "bargaining",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # The person's time zone for the request: their choice, else their local's (after auth).
    "membership.time_zones.TimeZoneMiddleware",
    "membership.middleware.OfficerTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Heavy work refused for lack of a slot (union/limits.py) answers 503 "busy", not a server error.
    "union.limits.BusyMiddleware",
    # Axes goes last so that it sees the outcome of the login view.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "union.urls"
ASGI_APPLICATION = "union.asgi.application"
WSGI_APPLICATION = None

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            # Daphne does not reload code; without the cached loader, an edited template shows at
            # once in development. Production keeps Django's cached loader.
            "loaders": (
                ["django.template.loaders.filesystem.Loader", "django.template.loaders.app_directories.Loader"]
                if DEBUG
                else [("django.template.loaders.cached.Loader", [
                    "django.template.loaders.filesystem.Loader", "django.template.loaders.app_directories.Loader"])]
            ),
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "union.context_processors.tessera",
            ],
        },
    },
]

# Databases: SQLite by default, DATABASE_URL (PostgreSQL in production) when set.
import dj_database_url  # noqa: E402

# Production on PostgreSQL borrows connections from a pool (psycopg_pool, one per process).
# Under Daphne every HTTP request runs in a thread of its own, so a kept connection (CONN_MAX_AGE)
# is never reused: each request opened a PostgreSQL connection, and with CONN_MAX_AGE=60 those of
# finished threads stayed open until max_connections ran out (bench/db_connections.py). Django
# requires CONN_MAX_AGE=0 with the pool: "closing" returns the connection to it, which is also what
# Channels' database_sync_to_async does around each call. Without the pool (SQLite, or
# TESSERA_DB_POOL=0) production keeps connections 60 s, health-checked before reuse, which helps
# the sockets' one database thread. Development closes them.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("TESSERA_DB_CONN_MAX_AGE", "60" if PRODUCTION else "0")),
        conn_health_checks=True,
    )
}
TESSERA_DB_POOL = _env_bool("TESSERA_DB_POOL", PRODUCTION) and DATABASES["default"]["ENGINE"] == (
    "django.db.backends.postgresql")
if TESSERA_DB_POOL:
    if os.environ.get("TESSERA_DB_CONN_MAX_AGE", "0").strip() not in ("", "0"):
        raise ImproperlyConfigured("TESSERA_DB_CONN_MAX_AGE must be 0 (or unset) with the connection pool "
                                   "(TESSERA_DB_POOL): pooled connections are returned, not kept.")
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The pool checks a connection before lending it only when it sat idle (union/db.py): Django's
    # health checks would cost a round trip per borrow, and a room's socket borrows per message.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["ENGINE"] = "union.postgresql"  # Django's, taking the pool's check from OPTIONS
    from union.db import CheckAfterIdle  # noqa: E402

    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("TESSERA_DB_POOL_MIN", "2")),
        "max_size": int(os.environ.get("TESSERA_DB_POOL_MAX", "10")),
        # A request waits this long for a free connection, then fails (500) rather than hang.
        "timeout": float(os.environ.get("TESSERA_DB_POOL_TIMEOUT", "10")),
        "check": CheckAfterIdle(float(os.environ.get("TESSERA_DB_POOL_CHECK_AFTER", "2"))),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"]["OPTIONS"]["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channels: Redis pub/sub when REDIS_URL is set, in-memory (one Daphne process) otherwise.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL}], "prefix": os.environ.get("TESSERA_REDIS_PREFIX", "tessera")},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Sockets (union/consumers.py): revocations are pushed as events; this bounds how long a socket may
# go on when such an event is lost. The hooks add the feature apps' rules to every socket's check
# without the core importing them.
TESSERA_WS_RECHECK_SECONDS = float(os.environ.get("TESSERA_WS_RECHECK_SECONDS", "5"))
TESSERA_SESSION_CHECKS = ["membership.realtime.socket_rights"]
# The rooms' relay (messaging.consumers.RoomFanout) sends a busy room's messages together, at most
# this often per process; a message that finds the process quiet goes out at once.
TESSERA_ROOMS_FLUSH_SECONDS = float(os.environ.get("TESSERA_ROOMS_FLUSH_SECONDS", "0.05"))

# Background tasks (django-tasks): the database backend, run by `manage.py db_worker`
# (deploy/tessera-worker.service), in production; the immediate backend, which runs a task as it is
# enqueued, in development and tests, so `make run` needs no worker. TESSERA_TASKS overrides either.
TESSERA_TASKS = os.environ.get("TESSERA_TASKS", "database" if PRODUCTION else "immediate").strip().lower()
if TESSERA_TASKS not in ("database", "immediate"):
    raise ImproperlyConfigured("TESSERA_TASKS must be 'database' or 'immediate'.")
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend" if TESSERA_TASKS == "database"
        else "django_tasks.backends.immediate.ImmediateBackend",
    }
}

# Accounts.
AUTH_USER_MODEL = "membership.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "membership.backends.HandleOrEmailBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row
GUARDIAN_MONKEY_PATCH_USER = False
# Argon2id at m=46 MiB, t=1, p=1 (union/hashers.py; README "Password hashing" has the figures);
# hashes made with Django's heavier defaults still verify and are re-hashed at the next login.
PASSWORD_HASHERS = [
    "union.hashers.TesseraArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
     "OPTIONS": {"user_attributes": ["handle"]}},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account:login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 2
OTP_TOTP_ISSUER = "Tessera"

# Lockout (django-axes): five failures for one account from one address lock that pair out for
# fifteen minutes. Usernames and addresses are stored only as keyed hashes (membership/lockout.py),
# so the lockout table reveals neither who tried to log in nor from where.
AXES_FAILURE_LIMIT = int(os.environ.get("TESSERA_LOCKOUT_FAILURES", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("TESSERA_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = False
AXES_USERNAME_CALLABLE = "membership.lockout.username_key"
AXES_CLIENT_IP_CALLABLE = "membership.lockout.address_key"
AXES_LOCKOUT_TEMPLATE = "account/locked_out.html"
# Stored query strings mask these; the handler drops the User-Agent and Accept header.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token", "next", "csrfmiddlewaretoken"]
AXES_HANDLER = "membership.lockout.PrivateAxesHandler"

# The audit checkpoint file: an append-only file outside the database where
# `manage.py audit_checkpoint` records the chain's end each day and `audit_verify` checks it
# (union/audit.py). Unset: no checkpoints, and truncation of the whole log goes unnoticed.
TESSERA_AUDIT_CHECKPOINT_FILE = os.environ.get("TESSERA_AUDIT_CHECKPOINT_FILE", "").strip()

# Heavy work (image re-encoding, PDF rendering, password hashing) allowed at once per process, and
# how long a request waits for a slot before it is answered 503 (union/limits.py).
TESSERA_HEAVY_WORK_SLOTS = int(os.environ.get("TESSERA_HEAVY_WORK_SLOTS", "2"))
TESSERA_HEAVY_WORK_WAIT = float(os.environ.get("TESSERA_HEAVY_WORK_WAIT", "10"))

# Join form limits (membership/throttle.py): per client address per hour (addresses kept only as
# keyed hashes), and per union per hour and per day (past these, organizers are alerted).
TESSERA_JOIN_PER_ADDRESS_HOUR = int(os.environ.get("TESSERA_JOIN_PER_ADDRESS_HOUR", "60"))
TESSERA_JOIN_PER_UNION_HOUR = int(os.environ.get("TESSERA_JOIN_PER_UNION_HOUR", "200"))
TESSERA_JOIN_PER_UNION_DAY = int(os.environ.get("TESSERA_JOIN_PER_UNION_DAY", "1000"))

# Answers that must not reveal whether an email or phone is known (join, password reset, email
# change on /me/edit, login) take at least this long, whatever the work took (union/timing.py).
TESSERA_EQUAL_TIME_SECONDS = float(os.environ.get("TESSERA_EQUAL_TIME_SECONDS", "1.0"))

# A roll export larger than this alerts the local's admins.
TESSERA_EXPORT_ALERT_ROWS = int(os.environ.get("TESSERA_EXPORT_ALERT_ROWS", "500"))

SESSION_COOKIE_AGE = int(os.environ.get("TESSERA_SESSION_HOURS", "12")) * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
LANGUAGE_COOKIE_SECURE = PRODUCTION
LANGUAGE_COOKIE_SAMESITE = "Lax"

# Transport and browser security.
SECURE_SSL_REDIRECT = _env_bool("TESSERA_SSL_REDIRECT", PRODUCTION)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_HSTS_SECONDS = 31536000 if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = _env_bool("TESSERA_HSTS_PRELOAD", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
    }
}

# Languages. Catalogs are compiled by `manage.py compile_catalogs` (pure Python, no gettext).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français"), ("sw", "Kiswahili"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("TESSERA_TIME_ZONE", "UTC")
USE_TZ = True
# Our formats where Django's do not fit: Swahili has none (times read "3:04 p.m"), English is American.
FORMAT_MODULE_PATH = ["union.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("TESSERA_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
TESSERA_SERVE_STATIC = _env_bool("TESSERA_SERVE_STATIC", not PRODUCTION)
MEDIA_ROOT = Path(os.environ.get("TESSERA_MEDIA_ROOT", BASE_DIR / ".local" / "media"))

# Email: console in development, SMTP when TESSERA_EMAIL_HOST is set.
EMAIL_HOST = os.environ.get("TESSERA_EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("TESSERA_EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("TESSERA_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("TESSERA_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = _env_bool("TESSERA_EMAIL_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("TESSERA_FROM_EMAIL", "Tessera <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
TESSERA_SITE_NAME = os.environ.get("TESSERA_SITE_NAME", "Tessera")
# Where emails link to. In production set it to the public address (https://union.example).
# In development, the port `make run` serves on (it passes PORT, and TESSERA_SITE_URL too).
_dev_port = os.environ.get("PORT", "").strip() or "8000"
_dev_site = f"http://127.0.0.1:{_dev_port}"
_default_site = f"https://{ALLOWED_HOSTS[0]}" if PRODUCTION and ALLOWED_HOSTS else _dev_site
TESSERA_SITE_URL = os.environ.get("TESSERA_SITE_URL", _default_site).rstrip("/")
# Pages that may open a WebSocket (union/origins.py): scheme, host and port must all match one of
# these. In development also both names of the address the development server answers on.
TESSERA_SOCKET_ORIGINS = [TESSERA_SITE_URL, *CSRF_TRUSTED_ORIGINS]
if not PRODUCTION:
    TESSERA_SOCKET_ORIGINS += [_dev_site, f"http://localhost:{_dev_port}"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A refused request (403, 404, 400...) is one line without traceback or path (union/logs.py): on
    # the loggers Django uses for them, and on the handler for the django.security.* family.
    "filters": {"one_line_client_errors": {"()": "union.logs.OneLineClientErrors"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["one_line_client_errors"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("TESSERA_LOG_LEVEL", "WARNING")},
    "loggers": {
        # Django's default logging gives `django` a console handler of its own (when DEBUG is on, as
        # in `make run`) that the root handler would repeat: every line printed twice. One handler.
        "django": {"handlers": ["console"], "level": os.environ.get("TESSERA_LOG_LEVEL", "WARNING"),
                   "propagate": False},
        "django.request": {"filters": ["one_line_client_errors"]},
        "django.security.csrf": {"filters": ["one_line_client_errors"]},
        # Axes would log usernames and addresses of failed logins; Tessera keeps neither.
        "axes": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "weasyprint": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "fontTools": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}

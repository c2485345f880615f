"""Settings for every environment; `test.py` overrides what tests need. Values come from
the environment."""

import hashlib
from collections.abc import Mapping
from typing import Any, TypedDict
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dj_database_url

from faune_platform.settings.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
)
from faune_platform.settings.secret import BASE_DIR as BASE_DIR  # a setting other modules read
from faune_platform.settings.secret import data_dir, secret_key_read

DATA_DIR = data_dir()
MEDIA_ROOT = DATA_DIR / "media"
IMPORTS_DIR = DATA_DIR / "imports"
SECRET_KEY = secret_key_read(DATA_DIR)
DEBUG = env_bool("FAUNE_DEBUG", False)
ALLOWED_HOSTS = env_list("FAUNE_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("FAUNE_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # django.contrib.admin, opened to coordinators by membership
    "faune_platform.apps.FauneAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # kept for the migration that moved its tokens to ours (its table is empty since)
    "rest_framework.authtoken",
    "django_q",
    "faune_platform",
    "annotation",
    "inference",
    "training",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The reader's language (the footer's switch, else the browser's preference) for get_language():
    # pages, taxon names and their order follow it.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A domain refusal a page lets through: its status (the API's mapping) and its message, not a
    # server error.
    "faune_platform.responses.DomainErrorMiddleware",
]

# Django's database sessions, read with a plain query (see faune_platform/sessions.py).
SESSION_ENGINE = "faune_platform.sessions"

ROOT_URLCONF = "faune_platform.urls"
WSGI_APPLICATION = "faune_platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "faune_platform.context.roles",
            ],
        },
    },
]

_SQLITE_OPTIONS = {
    # WAL lets the web server read while the worker writes; IMMEDIATE takes the write lock up front
    # so two writers queue on the busy timeout instead of failing on a lock upgrade.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}


def _postgresql_options() -> dict[str, Any]:
    """Statements prepared once per connection and reused (faune_platform/postgresql): the server
    parses and plans each of our queries once instead of on every request, a third of its CPU under
    the review load. A pooler that hands one session's statements to another (PgBouncer in
    transaction mode before 1.21) needs FAUNE_DB_PREPARED_STATEMENTS=0."""
    if not env_bool("FAUNE_DB_PREPARED_STATEMENTS", True):
        return {}
    # Binding on the server is what lets a statement be prepared; the second run of the same SQL
    # prepares it (psycopg's default waits for the sixth).
    return {"server_side_binding": True, "prepare_threshold": 2}


def _database() -> Mapping[str, Any]:
    url = env_str("DATABASE_URL", "")
    if url.startswith("sqlite"):
        return {**dj_database_url.parse(url), "OPTIONS": _SQLITE_OPTIONS}
    if url:
        # Connections are kept between requests. Checking one before each request costs a round
        # trip on every request (one in four of a quick request's); without it, the first request
        # on a connection the database server dropped fails once and the connection is replaced.
        checks = env_bool("FAUNE_DB_HEALTH_CHECKS", False)
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=checks)
        if config["ENGINE"] != "django.db.backends.postgresql":
            return config
        return {
            **config,
            "ENGINE": "faune_platform.postgresql",
            "OPTIONS": {**config.get("OPTIONS", {}), **_postgresql_options()},
        }
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "db.sqlite3",
        "OPTIONS": _SQLITE_OPTIONS,
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# Seconds to reach Redis before giving up. A Redis host that drops packets (gone, behind a firewall)
# would otherwise hold a request for the system's connect timeout, minutes, before the task outbox
# (faune_platform/jobs.py) and the log-in throttle's fallback take over. A value in the URL wins.
REDIS_CONNECT_TIMEOUT_S = 2


def redis_url_with_connect_timeout(url: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("socket_connect_timeout", str(REDIS_CONNECT_TIMEOUT_S))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _cache_url() -> str:
    """The shared cache: FAUNE_CACHE_URL, else the database after the job queue's on the Redis
    server of REDIS_URL (clearing a cache empties its whole database, which must not hold jobs);
    none without Redis."""
    explicit, redis_url = env_str("FAUNE_CACHE_URL", ""), env_str("REDIS_URL", "")
    if explicit or not redis_url:
        return explicit
    parts = urlsplit(redis_url)
    queue_database = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{queue_database + 1}"))


# Log-in throttling (the login page and POST /api/token/) counts failures in Django's cache. With
# Redis every web process shares it, so the counts hold across processes; without Redis each process
# keeps its own. Sessions stay in the database: reading them from Redis would save one quick query a
# request, but every page would fail while Redis is down.
CACHE_URL = _cache_url()
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url_with_connect_timeout(CACHE_URL),
        }
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "faune"}
    }

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "faune_platform.auth.CoordinatorBackend",  # coordinators' admin rights, from memberships
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = None  # no collectstatic step: whitenoise serves app static files directly
WHITENOISE_USE_FINDERS = True  # serve app static files without a collectstatic step
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Media in object storage (S3 or a compatible server) when a bucket is named (needs the `s3` extra).
# Credentials come the way boto3 finds them: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile,
# a role.
if env_str("FAUNE_S3_BUCKET", ""):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("FAUNE_S3_BUCKET", ""),
            "endpoint_url": env_str("FAUNE_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("FAUNE_S3_REGION", "") or None,
            "location": env_str("FAUNE_S3_PREFIX", ""),  # a folder in the bucket
            "default_acl": None,  # the bucket's own policy; media are private
            "querystring_auth": True,  # links to media are signed and expire
            "file_overwrite": False,  # two uploads under one name keep both
        },
    }
MEDIA_URL = "/media/"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Uploads: keep request bodies bounded; large files stream to disk instead of memory. The upload
# APIs refuse more than FAUNE["MAX_FILES_PER_REQUEST"] files with a message; Django's own cut-off,
# further up, only stops floods.
_MAX_FILES_PER_REQUEST = env_int("FAUNE_MAX_FILES_PER_REQUEST", 500, minimum=1)
DATA_UPLOAD_MAX_NUMBER_FILES = 4 * _MAX_FILES_PER_REQUEST
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Named, expiring tokens stored as hashes; the header stays `Authorization: Token <secret>`.
        # First, so a request without credentials, or with a bad token, gets 401 and
        # `WWW-Authenticate: Token`.
        "faune_platform.tokens.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "faune_platform.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "faune_platform.openapi.ApiSchema",
}


_JOB_TIMEOUT_S = env_int("FAUNE_JOB_TIMEOUT_S", 600, minimum=10)


def _q_cluster() -> dict[str, object]:
    cluster = {
        # One queue per data dir: two checkouts sharing a Redis server must never run each
        # other's jobs.
        "name": env_str(
            "FAUNE_QUEUE_NAME", "faune-" + hashlib.sha256(str(DATA_DIR).encode()).hexdigest()[:8]
        ),
        "workers": env_int("FAUNE_WORKERS", 1, minimum=1),
        # A task that runs longer is stopped; a task not acknowledged after `retry` is delivered
        # again. Jobs are cut into chunks of about JOB_CHUNK_S, so both stay at minutes and a killed
        # worker's job resumes soon.
        "timeout": _JOB_TIMEOUT_S,
        "retry": _JOB_TIMEOUT_S + max(10, _JOB_TIMEOUT_S // 10),
        "max_attempts": 2,
        "catch_up": False,
        "save_limit": 1000,
        "ack_failures": True,
        "poll": 1,
    }
    redis_url = env_str("REDIS_URL", "")
    if redis_url:
        cluster["redis"] = redis_url_with_connect_timeout(redis_url)
    else:
        cluster["orm"] = "default"
    return cluster


Q_CLUSTER = _q_cluster()


# Domain defaults a deployment may tune.
class FauneSettings(TypedDict):
    """What FAUNE holds, typed: services read it as settings.FAUNE[NAME]."""

    MAX_IMAGE_PIXELS: int
    MAX_UPLOAD_BYTES: int
    MAX_ZIP_UNCOMPRESSED_BYTES: int
    MAX_ZIP_RATIO: float
    MAX_FILES_PER_REQUEST: int
    MAX_REQUEST_BYTES: int
    DAILY_UPLOAD_FILES: int
    DAILY_UPLOAD_BYTES: int
    LOGIN_MAX_FAILURES_PER_USER: int
    LOGIN_MAX_FAILURES_PER_ADDRESS: int
    LOGIN_LOCKOUT_S: int
    API_TOKEN_DEFAULT_DAYS: int
    API_TOKEN_MAX_DAYS: int
    THUMBNAIL_SIZE: int
    DEFAULT_MAXLAG_S: float
    EARLIEST_PLAUSIBLE_YEAR: int
    DETECTION_THRESHOLD: float
    DECODE_THREADS: int
    PRELABEL_BATCH_SIZE: int
    AFTER_INGEST_TASKS: list[str]
    AFTER_SEQUENCE_MERGE_TASKS: list[str]
    AFTER_PARTNER_LABEL_TASKS: list[str]
    PRELABEL_COLUMNS: str
    DOUBLE_REVIEW_FRACTION: float
    SECOND_OPINION_WAIT_HOURS: float
    SELECTION_SCAN_LIMIT: int
    SELECTION_NEIGHBOURS: int
    NEAR_DUPLICATE_COSINE: float
    AUTO_PROMOTE: bool
    GATE_MACRO_F1_MARGIN: float
    GATE_MAX_RECALL_DROP: float
    GATE_MIN_SUPPORT: int
    ROUND_CADENCE_MINUTES: int
    ROUND_MIN_NEW_EXPERT_LABELS: int
    ROUND_STALE_MINUTES: int
    ROUND_TIMEOUT_S: int
    JOB_CHUNK_S: float
    JOB_STALE_S: float
    JOB_MAX_RESUMES: int
    JOB_SWEEP_MINUTES: int
    JOB_SWEEPS: list[str]
    JOB_TIMEOUT_S: int
    FAILPOINTS: frozenset[str]


FAUNE: FauneSettings = {
    # The largest common trap frames are about 24 MP and some cameras write interpolated 30-48 MP
    # files; past 50 MP a file is a panorama or a decompression bomb (checked from the header,
    # before any decoding).
    "MAX_IMAGE_PIXELS": env_int("FAUNE_MAX_IMAGE_PIXELS", 50_000_000, minimum=1_000_000),
    "MAX_UPLOAD_BYTES": env_int("FAUNE_MAX_UPLOAD_BYTES", 2 * 1024**3, minimum=1024),
    "MAX_ZIP_UNCOMPRESSED_BYTES": env_int("FAUNE_MAX_ZIP_BYTES", 20 * 1024**3, minimum=1024),
    # Photos and videos barely compress: a zip may unpack to this many times its size (plus room for
    # an index).
    "MAX_ZIP_RATIO": env_float("FAUNE_MAX_ZIP_RATIO", 10.0, minimum=1.0),
    # Upload allowances: per request, and per organisation per calendar day (UTC). Bytes are counted
    # as received; a zip counts as one file against a request's limit (a card's folder is one zip)
    # and as the files it holds against the day's.
    "MAX_FILES_PER_REQUEST": _MAX_FILES_PER_REQUEST,
    "MAX_REQUEST_BYTES": env_int("FAUNE_MAX_REQUEST_BYTES", 4 * 1024**3, minimum=1024),
    "DAILY_UPLOAD_FILES": env_int("FAUNE_DAILY_UPLOAD_FILES", 100_000, minimum=1),
    "DAILY_UPLOAD_BYTES": env_int("FAUNE_DAILY_UPLOAD_BYTES", 500 * 1024**3, minimum=1024),
    # Log-in throttling: after this many failed attempts for one user name, or from one address,
    # within LOGIN_LOCKOUT_S seconds of the first, log-ins are refused until that window ends.
    "LOGIN_MAX_FAILURES_PER_USER": env_int("FAUNE_LOGIN_MAX_FAILURES_PER_USER", 5, minimum=1),
    "LOGIN_MAX_FAILURES_PER_ADDRESS": env_int(
        "FAUNE_LOGIN_MAX_FAILURES_PER_ADDRESS", 20, minimum=1
    ),
    "LOGIN_LOCKOUT_S": env_int("FAUNE_LOGIN_LOCKOUT_S", 900, minimum=1),
    # API tokens: lifetime in days when none is asked for, and the longest one may ask for.
    "API_TOKEN_DEFAULT_DAYS": env_int("FAUNE_API_TOKEN_DEFAULT_DAYS", 90, minimum=1),
    "API_TOKEN_MAX_DAYS": env_int("FAUNE_API_TOKEN_MAX_DAYS", 365, minimum=1),
    "THUMBNAIL_SIZE": env_int("FAUNE_THUMBNAIL_SIZE", 320, minimum=64),
    "DEFAULT_MAXLAG_S": env_float("FAUNE_DEFAULT_MAXLAG_S", 20.0),
    "EARLIEST_PLAUSIBLE_YEAR": env_int("FAUNE_EARLIEST_PLAUSIBLE_YEAR", 1990, minimum=1900),
    "DETECTION_THRESHOLD": env_float("FAUNE_DETECTION_THRESHOLD", 0.2),
    "DECODE_THREADS": env_int("FAUNE_DECODE_THREADS", 2, minimum=1),
    "PRELABEL_BATCH_SIZE": env_int("FAUNE_PRELABEL_BATCH_SIZE", 16, minimum=1),
    # Jobs queued (by dotted path, with the batch id) when files enter the pool: the labelled pool
    # does not import the apps that consume it, it only names their tasks here.
    "AFTER_INGEST_TASKS": env_list("FAUNE_AFTER_INGEST_TASKS", ["inference.tasks.prelabel_batch"]),
    # Jobs queued with the ids of sequences that merged (their verdicts, derived from frames, are
    # worked out again).
    "AFTER_SEQUENCE_MERGE_TASKS": env_list(
        "FAUNE_AFTER_SEQUENCE_MERGE_TASKS", ["inference.tasks.sequence_verdicts_refresh"]
    ),
    # Jobs queued with the ids of new partner labels (a doubtful correction goes to an expert for
    # a check).
    "AFTER_PARTNER_LABEL_TASKS": env_list(
        "FAUNE_AFTER_PARTNER_LABEL_TASKS", ["inference.tasks.partner_labels_route"]
    ),
    # Adds each image's pre-label (predicted_taxon_id, predicted_score, predicted_category, null
    # when none; and predicted_zero_shot) to a queryset of images, by dotted path: the image list
    # shows and filters pre-labels without importing the app that makes them.
    "PRELABEL_COLUMNS": "inference.selectors.with_production_prediction",
    # Share of review tasks given to two experts, blind, to measure agreement; disagreements go to
    # a coordinator.
    "DOUBLE_REVIEW_FRACTION": env_float("FAUNE_DOUBLE_REVIEW_FRACTION", 0.1),
    # A blind second review that waited this long for another expert of its taxon is offered to
    # every expert and coordinator: a taxon with a single expert must not keep its double reviews
    # waiting forever.
    "SECOND_OPINION_WAIT_HOURS": env_float("FAUNE_SECOND_OPINION_WAIT_HOURS", 48.0, minimum=0.0),
    # Above this many unlabelled candidates, selection looks only at the neighbourhood of labelled
    # images (SEALS): SELECTION_NEIGHBOURS of each of LIMIT / NEIGHBOURS labelled images. What a
    # pick costs grows with this number.
    "SELECTION_SCAN_LIMIT": env_int("FAUNE_SELECTION_SCAN_LIMIT", 100_000, minimum=100),
    "SELECTION_NEIGHBOURS": env_int("FAUNE_SELECTION_NEIGHBOURS", 100, minimum=1),
    "NEAR_DUPLICATE_COSINE": env_float("FAUNE_NEAR_DUPLICATE_COSINE", 0.97),
    # Promotion gate: a candidate goes to production by itself only if it can say every class
    # production says and the pool holds, the lower end of the 95% bootstrap interval of its
    # macro-F1 difference to production (paired, over test sequences) is above
    # -GATE_MACRO_F1_MARGIN, and no class with at least GATE_MIN_SUPPORT test images loses more than
    # GATE_MAX_RECALL_DROP of recall.
    "AUTO_PROMOTE": env_bool("FAUNE_AUTO_PROMOTE", True),
    "GATE_MACRO_F1_MARGIN": env_float("FAUNE_GATE_MACRO_F1_MARGIN", 0.01),
    "GATE_MAX_RECALL_DROP": env_float("FAUNE_GATE_MAX_RECALL_DROP", 0.05),
    "GATE_MIN_SUPPORT": env_int("FAUNE_GATE_MIN_SUPPORT", 20, minimum=1),
    # Periodic rounds: checked every ROUND_CADENCE_MINUTES, started when this many new expert
    # labels arrived.
    "ROUND_CADENCE_MINUTES": env_int("FAUNE_ROUND_CADENCE_MINUTES", 24 * 60, minimum=1),
    "ROUND_MIN_NEW_EXPERT_LABELS": env_int("FAUNE_ROUND_MIN_NEW_EXPERT_LABELS", 500, minimum=1),
    "ROUND_STALE_MINUTES": env_int("FAUNE_ROUND_STALE_MINUTES", 30, minimum=1),
    # A round is one long task (training cannot be cut into chunks); this is its own time limit.
    "ROUND_TIMEOUT_S": env_int("FAUNE_ROUND_TIMEOUT_S", 24 * 3600, minimum=60),
    # Jobs (see faune_platform/jobs.py): each chunk works about JOB_CHUNK_S seconds, then queues the
    # next one. A running job with no heartbeat for JOB_STALE_S lost its worker: the sweep, every
    # JOB_SWEEP_MINUTES, queues it again, at most JOB_MAX_RESUMES times.
    "JOB_CHUNK_S": env_float("FAUNE_JOB_CHUNK_S", 60.0),
    "JOB_STALE_S": env_float("FAUNE_JOB_STALE_S", 180.0),
    "JOB_MAX_RESUMES": env_int("FAUNE_JOB_MAX_RESUMES", 3, minimum=0),
    "JOB_SWEEP_MINUTES": env_int("FAUNE_JOB_SWEEP_MINUTES", 2, minimum=1),
    "JOB_SWEEPS": env_list(
        "FAUNE_JOB_SWEEPS",
        ["inference.tasks.jobs_sweep", "annotation.tasks.jobs_sweep", "training.tasks.jobs_sweep"],
    ),
    "JOB_TIMEOUT_S": _JOB_TIMEOUT_S,
    # Fault tests only (faune_platform/failpoints.py): where a worker stops so that the test can
    # kill it.
    "FAILPOINTS": frozenset(env_list("FAUNE_FAILPOINTS", [])),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("FAUNE_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "faiss": {"level": "WARNING"}},
}

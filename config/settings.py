"""Recoup settings. What differs between installations comes from the environment (.env.example)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str, env_time

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)
# Production refuses to start without a real secret; development and tests get a fixed, obviously-unsafe one.
SECRET_KEY = env_str("SECRET_KEY", required=not DEBUG and not env_bool("RECOUP_INSECURE_DEFAULTS"))
if not SECRET_KEY:
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_htmx",
    "recoup.core",
    "recoup.users",
    "recoup.ledger",
    "recoup.dunning",
    "recoup.disputes",
    "recoup.activity",
    "recoup.reports",
    "recoup.insights",
    "recoup.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "recoup" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "recoup.core.context_processors.recoup",
            ],
        },
    },
]

# The embedded default is a SQLite file next to the code; DATABASE_URL points elsewhere (postgres://…).
DATA_DIR = Path(env_str("RECOUP_DATA_DIR", str(BASE_DIR / "var")))
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'recoup.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# Front-end libraries come from npm (package.json) and are served from node_modules, never copied into git.
STATICFILES_DIRS = [("vendor", BASE_DIR / "node_modules")] if (BASE_DIR / "node_modules").is_dir() else []
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = DATA_DIR / "media"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie-free hx-headers attribute instead
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG and env_bool("RECOUP_HTTPS", default=False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["recoup.users.permissions.RolePermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "recoup.api.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Recoup API",
    "DESCRIPTION": "Accounts-receivable ledger, aging and collections.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# Domain settings
BASE_CURRENCY = env_str("BASE_CURRENCY", "USD").upper()
# What happens to the part of a payment that names no invoice: "unapplied" keeps it as customer credit,
# "oldest_first" applies it to the customer's oldest open invoices in the same currency.
RECOUP_UNAPPLIED_CASH = env_str("RECOUP_UNAPPLIED_CASH", "unapplied")
if RECOUP_UNAPPLIED_CASH not in {"unapplied", "oldest_first"}:
    raise ImproperlyConfigured("RECOUP_UNAPPLIED_CASH must be 'unapplied' or 'oldest_first'.")

# Background work: with a broker, Celery workers; without one, tasks run in-process (embedded mode).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The queue Recoup's tasks go to and its workers read: installations that share one Redis need their own.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "recoup")
# A task whose worker died unacknowledged is delivered again after this long (Redis transport).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TIMEZONE = TIME_ZONE
# The distributed mode's schedule (celery beat). Cron drives the same work with `recoup dunning run` and
# `recoup dunning send` (docs/operations.md).
_RUN_HOUR, _RUN_MINUTE = env_time("RECOUP_DUNNING_RUN_AT", "06:00")
_SLA_HOUR, _SLA_MINUTE = env_time("RECOUP_DISPUTE_SLA_CHECK_AT", "07:00")
# Promises are evaluated before the dunning run, so that a broken one is chased again that same day.
_PROMISES_HOUR, _PROMISES_MINUTE = env_time("RECOUP_PROMISES_EVALUATE_AT", "05:30")
_CREDIT_HOUR, _CREDIT_MINUTE = env_time("RECOUP_CREDIT_LIMIT_CHECK_AT", "07:15")
# The weekly summary email to managers and admins (docs/reports.md): on by default, on this day of the week
# (mon … sun) at this time (HH:MM, TIME_ZONE), about the ISO week before.
RECOUP_WEEKLY_SUMMARY = env_bool("RECOUP_WEEKLY_SUMMARY", default=True)
RECOUP_WEEKLY_SUMMARY_DAY = env_str("RECOUP_WEEKLY_SUMMARY_DAY", "mon").strip().lower()
if RECOUP_WEEKLY_SUMMARY_DAY not in {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}:
    raise ImproperlyConfigured(
        f"RECOUP_WEEKLY_SUMMARY_DAY must be a day of the week (mon … sun), not {RECOUP_WEEKLY_SUMMARY_DAY!r}."
    )
_SUMMARY_HOUR, _SUMMARY_MINUTE = env_time("RECOUP_WEEKLY_SUMMARY_AT", "07:30")
CELERY_BEAT_SCHEDULE = {
    "dunning-run": {
        "task": "recoup.dunning.tasks.run_daily",
        "schedule": crontab(hour=_RUN_HOUR, minute=_RUN_MINUTE),
    },
    "dunning-dispatch": {"task": "recoup.dunning.tasks.dispatch", "schedule": 60.0},
    "disputes-sla": {
        "task": "recoup.disputes.tasks.check_sla",
        "schedule": crontab(hour=_SLA_HOUR, minute=_SLA_MINUTE),
    },
    "promises-evaluate": {
        "task": "recoup.activity.tasks.evaluate_promises",
        "schedule": crontab(hour=_PROMISES_HOUR, minute=_PROMISES_MINUTE),
    },
    "tasks-credit-limits": {
        "task": "recoup.activity.tasks.check_credit_limits",
        "schedule": crontab(hour=_CREDIT_HOUR, minute=_CREDIT_MINUTE),
    },
    "notifications-send": {"task": "recoup.core.tasks.send_notifications", "schedule": 60.0},
    # Retrain the payment models on everything known, then rescore every open invoice (docs/insights.md).
    "insights-nightly": {
        "task": "recoup.insights.tasks.nightly",
        "schedule": crontab(hour="2", minute="30"),
    },
    # The month that ended yesterday, stored as reported (`recoup reports snapshots` rebuilds older ones).
    "reports-month-end-snapshot": {
        "task": "recoup.reports.tasks.snapshot_month_end",
        "schedule": crontab(day_of_month="1", hour="1", minute="0"),
    },
}
if RECOUP_WEEKLY_SUMMARY:
    CELERY_BEAT_SCHEDULE["reports-weekly-summary"] = {
        "task": "recoup.reports.tasks.weekly_summary",
        "schedule": crontab(
            day_of_week=RECOUP_WEEKLY_SUMMARY_DAY, hour=_SUMMARY_HOUR, minute=_SUMMARY_MINUTE
        ),
    }

# Outbound email
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Recoup <ar@localhost>")
# Where django.core.mail.backends.filebased.EmailBackend writes messages (the demo uses it).
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "sent-mail"))
# Seconds before an SMTP connection or command gives up; the message is then retried.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)

# Inbound email: the collections mailbox the IMAP poller reads (docs/operations.md). No IMAP_HOST: no poller.
IMAP_HOST = env_str("IMAP_HOST", "")
# Implicit TLS (IMAPS, port 993) by default; IMAP_STARTTLS=1 upgrades a plain connection (port 143) instead.
IMAP_STARTTLS = env_bool("IMAP_STARTTLS", default=False)
IMAP_SSL = env_bool("IMAP_SSL", default=not IMAP_STARTTLS)
if IMAP_SSL and IMAP_STARTTLS:
    raise ImproperlyConfigured("Set at most one of IMAP_SSL and IMAP_STARTTLS.")
IMAP_PORT = env_int("IMAP_PORT", 993 if IMAP_SSL else 143)
IMAP_USER = env_str("IMAP_USER", "")
IMAP_PASSWORD = env_str("IMAP_PASSWORD", "")
IMAP_FOLDER = env_str("IMAP_FOLDER", "INBOX")
# Seconds before an IMAP connection or command gives up; the next poll tries again.
IMAP_TIMEOUT = env_int("IMAP_TIMEOUT", 30)
# An attachment larger than this is not kept (the email is, and says so). Default: 10 MB
RECOUP_INBOUND_MAX_ATTACHMENT_BYTES = env_int("RECOUP_INBOUND_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
# How often celery beat polls the mailbox, in seconds; `recoup inbound poll` does it from cron.
RECOUP_INBOUND_POLL_SECONDS = env_int("RECOUP_INBOUND_POLL_SECONDS", 60)
if IMAP_HOST:
    CELERY_BEAT_SCHEDULE["inbound-poll"] = {
        "task": "recoup.activity.tasks.poll_inbound",
        "schedule": float(RECOUP_INBOUND_POLL_SECONDS),
    }

# Dunning
RECOUP_COMPANY_NAME = env_str("RECOUP_COMPANY_NAME", "Recoup")
RECOUP_REPLY_TO = env_str("RECOUP_REPLY_TO", "")
# The right-hand side of the Message-IDs of reminders. Default: the domain of DEFAULT_FROM_EMAIL.
RECOUP_MESSAGE_ID_DOMAIN = env_str("RECOUP_MESSAGE_ID_DOMAIN", "")
# Attach a PDF statement of the customer's open items to every reminder email.
RECOUP_DUNNING_ATTACH_STATEMENT = env_bool("RECOUP_DUNNING_ATTACH_STATEMENT", default=True)
# Reminders go out at this local time in each customer's time zone, on the customer's business days.
RECOUP_DUNNING_SEND_TIME = env_time("RECOUP_DUNNING_SEND_TIME", "09:00")
# A run whose heartbeat stopped this long ago is taken over by the next one.
RECOUP_DUNNING_RUN_LEASE_SECONDS = env_int("RECOUP_DUNNING_RUN_LEASE_SECONDS", 600)
# A message claimed this long ago and not recorded as sent is claimed again: its sender is presumed dead.
RECOUP_OUTBOX_LEASE_SECONDS = env_int("RECOUP_OUTBOX_LEASE_SECONDS", 300)
# Transient SMTP failures are retried after 1, 2, 4, … times this, up to RECOUP_SMTP_MAX_ATTEMPTS attempts.
RECOUP_SMTP_RETRY_SECONDS = env_int("RECOUP_SMTP_RETRY_SECONDS", 60)
RECOUP_SMTP_MAX_ATTEMPTS = env_int("RECOUP_SMTP_MAX_ATTEMPTS", 8)
if RECOUP_OUTBOX_LEASE_SECONDS <= EMAIL_TIMEOUT * 2:
    raise ImproperlyConfigured(
        "RECOUP_OUTBOX_LEASE_SECONDS must exceed twice EMAIL_TIMEOUT, so a live sender never loses its claim."
    )

# Disputes
# A document attached to a dispute is at most this many bytes. Default: 10 MB
RECOUP_DISPUTE_UPLOAD_MAX_BYTES = env_int("RECOUP_DISPUTE_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)

# Promises to pay: a shortfall of at most this share of the amount, paid by the deadline, is "partially kept".
RECOUP_PROMISE_TOLERANCE_PERCENT = env_int("RECOUP_PROMISE_TOLERANCE_PERCENT", 10)
if not 0 <= RECOUP_PROMISE_TOLERANCE_PERCENT <= 100:
    raise ImproperlyConfigured("RECOUP_PROMISE_TOLERANCE_PERCENT must be a whole percentage from 0 to 100.")
# Links in the emails Recoup sends its own users (an assignment, an escalation) start with this.
RECOUP_BASE_URL = env_str("RECOUP_BASE_URL", "http://127.0.0.1:8000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

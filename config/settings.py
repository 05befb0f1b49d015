"""Keyhouse settings: one module, every value from the environment (see .env.example)."""

import os
import re
import tomllib
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
# `make run` keeps a generated key here, so local manage.py commands work without exporting it.
_secret_key_file = Path(env_str("KEYHOUSE_SECRET_KEY_FILE") or VAR_DIR / "secret_key")
if not SECRET_KEY and _secret_key_file.is_file():
    SECRET_KEY = _secret_key_file.read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set (or DJANGO_DEBUG=true for local development)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG"  # noqa: S105
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "accounts",
    "tokens",
    "apikeys",
]

# config.middleware's Session, Authentication and Message middleware are Django's, skipped by
# the API (/api/), which never uses them.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "config.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.SessionLimitsMiddleware",
    "config.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
_database_url = env_str("DATABASE_URL")
if not _database_url:
    VAR_DIR.mkdir(mode=0o700, exist_ok=True)  # SQLite creates the file, not its folder
    _database_url = f"sqlite:///{VAR_DIR / 'keyhouse.sqlite3'}"
try:
    _database = dj_database_url.parse(_database_url)
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _database["ENGINE"] == "django.db.backends.sqlite3":
    _database["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers wait on the busy
        # timeout instead of failing with "database is locked" half-way through a transaction.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA mmap_size=268435456;"
        ),
    }
    # Opening a SQLite connection costs more than a whole small request: keep it.
    _database["CONN_MAX_AGE"] = 600
    _database["CONN_HEALTH_CHECKS"] = True
elif _database["ENGINE"] == "django.db.backends.postgresql":
    _database["OPTIONS"] = {"pool": {"min_size": 1, "max_size": 8, "timeout": 10}}
    _database["CONN_MAX_AGE"] = 0  # psycopg's pool owns connection reuse
else:
    raise ImproperlyConfigured("DATABASE_URL must point at SQLite or PostgreSQL.")
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.UsernameOrEmailBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (browser, HTTP Basic and the password-change form alike): 5 failures lock
# that account (however it was typed: username or e-mail) and that client address for 5
# minutes, like Grafana's brute-force protection. The lock always expires (further attempts do
# not extend it), so nobody can lock the admin out for good; an operator can lift it at once
# with `manage.py axes_reset_username <username>`. A successful sign-in clears only that
# account's own failures (accounts.backends.SignInThrottleHandler).
AXES_FAILURE_LIMIT = env_int("KEYHOUSE_LOGIN_MAX_FAILURES", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("KEYHOUSE_LOGIN_LOCKOUT_SECONDS", 300, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
AXES_HANDLER = "accounts.backends.SignInThrottleHandler"
AXES_USERNAME_CALLABLE = "accounts.backends.sign_in_lock_key"
AXES_CLIENT_IP_CALLABLE = "accounts.network.client_address"
# Lockouts are answered by our own login view and API (a form error and a JSON 429), so axes'
# middleware, which would replace API responses with HTML, is deliberately not installed.
SILENCED_SYSTEM_CHECKS = ["axes.W002"]
# Joining the browsers' HSTS preload list is a per-domain commitment the operator opts into with
# DJANGO_SECURE_HSTS_PRELOAD=true; not doing so is not a misconfiguration.
SILENCED_SYSTEM_CHECKS += ["security.W021"]

# --- Security -------------------------------------------------------------------------------
# A sign-in ends after this long without a request, and this long after it began whatever
# happens (accounts.middleware.SessionLimitsMiddleware). The cookie and the stored session live
# no longer than the first limit; activity renews them.
KEYHOUSE_SESSION_IDLE_SECONDS = env_int("KEYHOUSE_SESSION_IDLE_SECONDS", 12 * 3600, minimum=60)
KEYHOUSE_SESSION_MAX_SECONDS = env_int("KEYHOUSE_SESSION_MAX_SECONDS", 7 * 86400, minimum=60)
SESSION_COOKIE_AGE = min(KEYHOUSE_SESSION_IDLE_SECONDS, KEYHOUSE_SESSION_MAX_SECONDS)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
_https = env_bool("KEYHOUSE_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", _https)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000 if _https else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = bool(SECURE_HSTS_SECONDS)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SECURE_REDIRECT_EXEMPT = [r"^api/health$"]
# Behind a proxy every connection comes from the proxy: the client's own address is read from
# X-Forwarded-For (accounts.network.client_address), or five failed sign-ins by anyone would
# lock everyone out.
KEYHOUSE_BEHIND_PROXY = env_bool("KEYHOUSE_BEHIND_PROXY", False)
KEYHOUSE_PROXY_COUNT = env_int("KEYHOUSE_PROXY_COUNT", 1, minimum=1)
if KEYHOUSE_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
    }
}

DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- E-mail ---------------------------------------------------------------------------------
# Without DJANGO_EMAIL_HOST, mail is printed to the console (stdout), so `make run` needs no
# mail server; with it, mail goes out through that SMTP server.
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "DJANGO_EMAIL_USE_TLS (STARTTLS) and DJANGO_EMAIL_USE_SSL (implicit TLS) exclude each "
        "other: set one."
    )
EMAIL_PORT = env_int(
    "DJANGO_EMAIL_PORT",
    465 if EMAIL_USE_SSL else 587 if EMAIL_USE_TLS else 25,
    minimum=1,
    maximum=65535,
)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "Keyhouse <keyhouse@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
try:
    validate_email(parseaddr(DEFAULT_FROM_EMAIL)[1])
except ValidationError:
    raise ImproperlyConfigured(
        "DJANGO_DEFAULT_FROM_EMAIL must be an e-mail address, optionally with a name: "
        f"'Keyhouse <keyhouse@example.com>', got {DEFAULT_FROM_EMAIL!r}."
    ) from None
EMAIL_SUBJECT_PREFIX = "[Keyhouse] "

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

LOG_LEVEL = env_str("KEYHOUSE_LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"KEYHOUSE_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Keyhouse -------------------------------------------------------------------------------
# pyproject.toml is the one place the version is written; /api/health and OpenAPI report it.
KEYHOUSE_VERSION = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]["version"]
KEYHOUSE_TOKEN_PREFIX = env_str("KEYHOUSE_TOKEN_PREFIX", "glsa")
if not re.fullmatch(r"[a-z][a-z0-9]{0,15}", KEYHOUSE_TOKEN_PREFIX):
    raise ImproperlyConfigured(
        "KEYHOUSE_TOKEN_PREFIX must be 1-16 lower-case letters or digits, starting with a letter."
    )
KEYHOUSE_TOKEN_EXPIRATION_DAY_LIMIT = env_int(
    "KEYHOUSE_TOKEN_EXPIRATION_DAY_LIMIT", None, minimum=1, maximum=36500
)
KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE = env_int(
    "KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE", 30 * 24 * 3600, minimum=-1
)
if KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE == 0:
    raise ImproperlyConfigured(
        "KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE must be a positive number of seconds or -1."
    )
KEYHOUSE_LAST_USED_INTERVAL_SECONDS = env_int("KEYHOUSE_LAST_USED_INTERVAL_SECONDS", 60, minimum=0)
# "Expiring soon" (list filter, badges, the nav count and the e-mail digest) looks this far ahead.
KEYHOUSE_EXPIRING_SOON_DAYS = env_int("KEYHOUSE_EXPIRING_SOON_DAYS", 7, minimum=1, maximum=365)
# Where people reach this server, for links in e-mails (which have no request to take it from).
KEYHOUSE_PUBLIC_URL = env_str("KEYHOUSE_PUBLIC_URL").rstrip("/")
if KEYHOUSE_PUBLIC_URL and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", KEYHOUSE_PUBLIC_URL):
    raise ImproperlyConfigured(
        "KEYHOUSE_PUBLIC_URL must be an http(s) address like https://keyhouse.example.com."
    )
# How long a proxy may reuse an /api/auth/verify answer (0: never, no-store): every second here
# is a second a revoked or disabled token still gets through such a proxy.
KEYHOUSE_VERIFY_CACHE_SECONDS = env_int("KEYHOUSE_VERIFY_CACHE_SECONDS", 0, minimum=0, maximum=3600)
# An invitation's link works once, for this many days.
KEYHOUSE_INVITE_DAYS = env_int("KEYHOUSE_INVITE_DAYS", 7, minimum=1, maximum=365)
# A password-reset link works once, within this many seconds (an hour at most).
PASSWORD_RESET_TIMEOUT = env_int("KEYHOUSE_PASSWORD_RESET_SECONDS", 3600, minimum=300, maximum=3600)
# Django's admin site bypasses Keyhouse's rules: off unless an operator turns it on, and then
# read-only for Keyhouse's own models (accounts/admin.py).
KEYHOUSE_DJANGO_ADMIN = env_bool("KEYHOUSE_DJANGO_ADMIN", False)
# manage.py prune_audit deletes audit events older than this.
KEYHOUSE_AUDIT_RETENTION_DAYS = env_int("KEYHOUSE_AUDIT_RETENTION_DAYS", 365, minimum=1)
# Dotted paths walked in order by accounts.api_auth; each knows one kind of credential.
KEYHOUSE_CREDENTIAL_BACKENDS = [
    "tokens.auth.ServiceAccountTokenBackend",
    "apikeys.auth.ApiKeyBackend",
    "accounts.api_auth.UserPasswordBackend",
]

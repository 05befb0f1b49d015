"""The peers' settings: Django's ``startproject`` settings plus DRF, djangorestframework-api-key
and django-rest-knox at their documented defaults.

Three deliberate differences, all the deployment's rather than a library's, so that bench/run.py
compares request paths and nothing else:
- production switches: ``DEBUG`` off, the secret key and allowed hosts from the environment;
- the database settings are Keyhouse's own (SQLite in WAL mode, connections kept between
  requests; bench/run.py reads them from Keyhouse and hands them over), pointed at the file
  bench/run.py seeds;
- DRF renders JSON with the standard library's separators (``COMPACT_JSON``), so its bodies are
  byte-identical to Django's ``JsonResponse`` and Keyhouse's.
"""

import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "knox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "peerproject.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "peerproject.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("PEERS_DATABASE", BASE_DIR / "db.sqlite3"),
        # Keyhouse's own OPTIONS, CONN_MAX_AGE and CONN_HEALTH_CHECKS, from bench/run.py.
        **json.loads(os.environ.get("BENCH_DATABASE_SETTINGS", "{}")),
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {"COMPACT_JSON": False}

"""The bare peer: one JSON view, no middleware, no apps, no database."""

import os

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "peerproject.bare"
DATABASES: dict = {}
USE_TZ = True

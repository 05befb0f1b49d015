"""The WSGI application gunicorn serves: Django's handler, with a short path for the API's
hottest header-authenticated requests (config.api_fastpath)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # what django.core.wsgi.get_wsgi_application does first

from config.api_fastpath import FastPathHandler  # noqa: E402 (needs the apps loaded)

application = FastPathHandler()

"""WSGI entry point for gunicorn: `gunicorn harness.django_side.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "harness.django_side.settings")
application = get_wsgi_application()

"""Django for the probes of the Django side, configured in this process: Django itself plus the third-party
packages a Django user installs for what Django lacks (django-otp, django-ratelimit, django-axes), on a
SQLite database of the run."""

import secrets
from datetime import timedelta
from pathlib import Path

FAILURE_LIMIT = 3  # django-axes: failures before a lockout
COOLOFF = timedelta(seconds=2)  # django-axes: how long a lockout lasts

_configured = False


def setup(folder: Path) -> None:
    global _configured
    if _configured:
        return
    import django
    from django.conf import settings
    from django.core.management import call_command

    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(folder / "django.db")}},
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.admin",  # LogEntry, Django's built-in record of admin actions
            "django_otp",
            "django_otp.plugins.otp_totp",
            "django_otp.plugins.otp_hotp",
            "axes",
        ],
        AUTHENTICATION_BACKENDS=["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"],
        AXES_FAILURE_LIMIT=FAILURE_LIMIT,
        AXES_COOLOFF_TIME=COOLOFF,
        AXES_LOCKOUT_PARAMETERS=["username", "ip_address"],  # a user's failures lock the user; an IP's, the IP
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],  # autoescape is its default
        ROOT_URLCONF="security.django_urls",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.ScryptPasswordHasher"],  # fast enough for many logins
        SECRET_KEY=secrets.token_urlsafe(32),
        USE_TZ=True,
        ALLOWED_HOSTS=["testserver"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        LOGGING_CONFIG=None,
        SILENCED_SYSTEM_CHECKS=["django_ratelimit.E003", "django_ratelimit.W001"],
    )
    django.setup()
    call_command("migrate", verbosity=0, interactive=False, skip_checks=True)
    _configured = True

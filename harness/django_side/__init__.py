"""The Django baseline: a real Django project on django.contrib.auth, on the run's database."""

SETTINGS_MODULE = "harness.django_side.settings"  # DJANGO_SETTINGS_MODULE of every process that runs it

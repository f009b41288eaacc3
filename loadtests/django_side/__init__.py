"""The Django baseline: a real Django project on django.contrib.auth, on the run's database."""

"""Locust files (`locust -f loadtests/jobs/<job>.py`); the runner (`python -m loadtests`) starts them."""

"""Calls into the Django side (django_side.py), each in a process of its own: Django's settings are per
process, and each source database has its own (`python -m migration seed-source | django-answers |
django-check`)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: `migration` is run from here


def django(source: str, command: str = "django-answers", payload=None):
    """Django's answers about the source database (`command`: django-answers or django-check)."""
    done = subprocess.run(
        [sys.executable, "-m", "migration", command, "--source", source],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"python -m migration {command} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def seed_source(url: str, users: int) -> None:
    """Migrate the Django project on `url` and seed it (django_side.seed)."""
    command = [sys.executable, "-m", "migration", "seed-source", "--source", url, "--users", str(users)]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)

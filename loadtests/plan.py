"""The plan the runner hands to a Locust job: a JSON file named by DFC_LOAD_PLAN."""

import json
import os
from pathlib import Path


def write_plan(path: Path, **plan) -> Path:
    path.write_text(json.dumps(plan, indent=1))
    return path


def read_plan() -> dict:
    try:
        return json.loads(Path(os.environ["DFC_LOAD_PLAN"]).read_text())
    except KeyError:
        raise SystemExit("loadtests: DFC_LOAD_PLAN is not set; start the jobs with `python -m loadtests run`") from None

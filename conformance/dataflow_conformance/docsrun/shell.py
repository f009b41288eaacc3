"""A ```bash run block: a command the docs show and run as a reader who copies it would.

The project's doc tests (doctests/commands.py) and `dataflow-conformance docs` run such a block the same
way: bash with `-e -o pipefail`, in the document's scratch directory (the working directory), with this
environment's programs first on PATH and no database configured (a reader's shell has none unless the
block says so). The network guard of a docs run does not reach into the shell's processes.
"""

import os
import subprocess
import sys
from pathlib import Path

UNCONFIGURED = ("DFC_POSTGRESQL_URL", "DFC_MYSQL_URL", "DATABASE_URL")


class CommandFailed(AssertionError):
    pass


def run_shell(source: str, timeout: float = 600) -> None:
    """Run the block; CommandFailed (with the tail of its output) when it exits with another status than 0."""
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in UNCONFIGURED:
        environment.pop(name, None)
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", source],
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout or None,
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        last = f": {output[-1].strip()}" if output else " and printed nothing"
        tail = "\n".join(output[-25:])
        raise CommandFailed(f"the block exited with status {done.returncode}{last}\n{tail}")

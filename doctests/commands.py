"""Check the commands that `bash` blocks of the docs show, where that is cheap: the arguments of every
`nox`, `pytest` and `dataflow-conformance` call must parse, without running the command. A block whose
info string is `bash run` is run as it is written (docsrun/shell.py: bash, in the document's scratch
directory, with this environment's programs first on PATH), as a reader who copies it would run it; it
must exit 0.

- `dataflow-conformance ...`: parsed by the CLI's own argument parser.
- `pytest ...`: parsed by pytest with its plugins loaded (`-p dataflow_conformance` included), in a
  subprocess; nothing is collected or run.
- `nox ...`: `nox ... --list` resolves the session names; the arguments after `--` of a session that hands
  them to pytest are checked as pytest arguments.
"""

import shlex
import subprocess
import sys
from pathlib import Path

from dataflow_conformance.cli import build_parser
from dataflow_conformance.docsrun.blocks import lex
from dataflow_conformance.docsrun.shell import CommandFailed, run_shell
from sybil import Region

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("nox", "pytest", "dataflow-conformance")
# nox sessions whose arguments after `--` go to pytest, and what the session puts before them.
PYTEST_SESSIONS = {"conformance": ["-p", "dataflow_conformance"], "doctests": [], "tests": []}
SEPARATORS = {"&&", "||", ";", "|", "&"}


def commands(source: str) -> list[list[str]]:
    """The checked commands of a shell snippet, as argument lists (program name first, path stripped)."""
    found = []
    for line in source.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        command: list[str] = []
        for token in [*lexer, ";"]:
            if token not in SEPARATORS:
                command.append(token)
                continue
            while command and "=" in command[0] and not command[0].startswith("-"):
                command.pop(0)  # VAR=value before the program
            if command and Path(command[0]).name in CHECKED:
                found.append([Path(command[0]).name, *command[1:]])
            command = []
    return found


def check(command: list[str]) -> None:
    program, args = command[0], command[1:]
    if program == "dataflow-conformance":
        _check_cli(args)
    elif program == "pytest":
        _check_pytest(args)
    else:
        _check_nox(args)


def _check_cli(args: list[str]) -> None:
    try:
        build_parser().parse_args(args)
    except SystemExit as exc:
        if exc.code:
            raise CommandFailed(f"dataflow-conformance {shlex.join(args)}: the arguments do not parse") from None


def _check_pytest(args: list[str]) -> None:
    parse_only = "import sys, pytest; pytest.Config.fromdictargs({}, sys.argv[1:])"
    _run([sys.executable, "-c", parse_only, *args], f"pytest {shlex.join(args)}")


def _check_nox(args: list[str]) -> None:
    own, posargs = (args[: args.index("--")], args[args.index("--") + 1 :]) if "--" in args else (args, [])
    _run([sys.executable, "-m", "nox", *own, "--list"], f"nox {shlex.join(own)}")
    sessions = [own[i + 1] for i, arg in enumerate(own[:-1]) if arg in ("-s", "--session", "--sessions")]
    for session in sessions:
        if posargs and session in PYTEST_SESSIONS:
            _check_pytest([*PYTEST_SESSIONS[session], *posargs])


def _run(argv: list[str], shown: str) -> None:
    done = subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip().splitlines()
        raise CommandFailed(f"{shown}: exit status {done.returncode}: {output[-1] if output else ''}")


def evaluate_commands(example) -> None:
    """Sybil evaluator for a bash block: every checked command in it must parse."""
    for command in commands(str(example.parsed)):
        check(command)


class CommandBlocks:
    """Sybil parser: the `bash` blocks that call a checked command (other bash blocks are prose)."""

    def __call__(self, document):
        for block in lex(document.text):
            if block.kind == "fence" and block.info == "bash" and commands(block.source):
                yield Region(block.start, block.end, block.source, evaluate_commands)


def run_block(example) -> None:
    """Sybil evaluator for a `bash run` block: run it (docsrun/shell.py); a non-zero exit fails with the tail
    of its output."""
    run_shell(str(example.parsed))


class RunnableBlocks:
    """Sybil parser: the ```bash run blocks, run as written."""

    def __call__(self, document):
        for block in lex(document.text):
            if block.is_shell_run:
                yield Region(block.start, block.end, block.source, run_block)

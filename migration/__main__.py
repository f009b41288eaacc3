"""`python -m migration migrate | verify | run | seed-source | django-answers | django-check`."""

import argparse
import json
import sys
from pathlib import Path

from .django_calls import django
from .target import DEFAULT_PREFIX


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m migration", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("migrate", "copy Django's auth tables into the DataFlow models (idempotent, resumable)"),
        ("verify", "compare both sides: counts, checksums, has_perm over every pair; exit 1 on any difference"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--source", required=True, help="the Django database URL")
        command.add_argument("--target", help="the DataFlow database URL (default: the source database)")
        command.add_argument("--dataflow-impl", default="dataflow_reference", help="module exposing DataFlow")
        command.add_argument("--prefix", default=DEFAULT_PREFIX, help="DataFlow table prefix")
        command.add_argument("--batch-size", type=int, default=500)
    run = commands.add_parser("run", help="seed, migrate twice and verify on every configured backend")
    run.add_argument("--dataflow-impl", action="append", help="module(s) to migrate into (default: reference)")
    run.add_argument("--users", type=int, default=200)
    run.add_argument("--markdown", type=Path, help="write the results table here")
    seed = commands.add_parser("seed-source", help="(Django) migrate and seed a source database")
    seed.add_argument("--source", required=True)
    seed.add_argument("--users", type=int, required=True)
    for name in ("django-answers", "django-check"):
        command = commands.add_parser(name, help="(Django) has_perm over every pair / check_password of pairs")
        command.add_argument("--source", required=True)
    args = parser.parse_args(argv)
    return COMMANDS[args.command](args)


def _migrate(args) -> int:
    from .migrate import migrate

    results = migrate(args.source, args.dataflow_impl, args.target or args.source, args.prefix, args.batch_size)
    for name, result in results.items():
        print(
            f"{name}: {result.source} in Django, {result.inserted} inserted, {len(result.updated)} updated "
            f"{result.updated}, {len(result.extra)} only in DataFlow {result.extra}"
        )
    return 0


def _verify(args) -> int:
    from .verify import verify

    report = verify(args.source, args.dataflow_impl, args.target or args.source, args.prefix, django(args.source))
    for table in report.tables:
        print(f"{table.name}: {table.source_count} / {table.target_count} rows, checksum {table.target_checksum[:12]}")
    print(f"has_perm: {report.pairs} pairs, {len(report.disagreements)} disagreements")
    for line in report.failures():
        print(f"DIFFERENCE {line}")
    print("verify: " + ("OK" if report.ok else "FAILED"))
    return 0 if report.ok else 1


def _run(args) -> int:
    from .run import run_all

    return run_all(args.dataflow_impl or ["dataflow_reference"], args.users, args.markdown)


def _django_side(args) -> int:
    from . import django_side

    django_side.setup(args.source)
    if args.command == "seed-source":
        result = django_side.seed(args.users)
    elif args.command == "django-answers":
        result = django_side.answers()
    else:
        result = django_side.check(json.loads(sys.stdin.read()))
    print(json.dumps(result))
    return 0


COMMANDS = {
    "migrate": _migrate,
    "verify": _verify,
    "run": _run,
    "seed-source": _django_side,
    "django-answers": _django_side,
    "django-check": _django_side,
}

if __name__ == "__main__":
    sys.exit(main())

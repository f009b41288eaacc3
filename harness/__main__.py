"""`python -m harness seed`: seed one side of a run's database (the comparisons run it in a process of its
own, with DFC_LOAD_DATABASE_URL and, for Django, DJANGO_SETTINGS_MODULE set)."""

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    seed = commands.add_parser("seed", help="seed one side of the run's database")
    seed.add_argument("--side", required=True, help="django, or a module that exposes DataFlow")
    seed.add_argument("--users", type=int, required=True)
    seed.add_argument("--table-prefix", required=True)
    seed.add_argument("--out", type=Path, required=True, help="where the seeded users' ids go (JSON)")
    args = parser.parse_args(argv)
    args.out.write_text(json.dumps(_seed(args.side, args.users, args.table_prefix)))
    return 0


def _seed(side: str, users: int, table_prefix: str) -> list[int]:
    if side == "django":
        import django

        django.setup()  # settings: DJANGO_SETTINGS_MODULE (harness.django_side.settings, set by the runner)
        from .django_side import auth_ops

        return auth_ops.seed(users)
    from .dataflow_side import DataFlowAuth, open_dataflow

    auth = DataFlowAuth(open_dataflow(side, os.environ["DFC_LOAD_DATABASE_URL"], table_prefix))
    try:
        return auth.seed(users)
    finally:
        auth.close()


if __name__ == "__main__":
    sys.exit(main())

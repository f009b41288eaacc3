"""`python -m security run`: every probe of security/probes/, then the report under security/reports/."""

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

from .findings import FAILS, KAILASH, UNKNOWN, Finding
from .probes import Context

HERE = Path(__file__).resolve().parent
# Django's probes need Django configured before their models import: the order matters only for that.
PROBES = ["otp", "rate_limit", "lockout", "audit", "anomaly", "alerts", "web"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m security", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="check every claim and write the report")
    run.add_argument("--out", type=Path, default=HERE / "reports")
    run.add_argument("--probe", action="append", choices=PROBES, help="only these probes (default: all)")
    args = parser.parse_args(argv)
    return _run(args)


def _run(args) -> int:
    from .django_setup import setup
    from .report import write_report

    started, load_before = time.time(), os.getloadavg()
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        setup(folder)
        context = Context(folder, os.environ.get("DFC_POSTGRESQL_URL"))
        for name in args.probe or PROBES:
            print(f"[security] {name}", flush=True)
            module = importlib.import_module(f".probes.{name}", __package__)
            try:
                found = module.run(context)
            except Exception as exc:  # a probe that breaks is reported, not hidden
                found = [
                    Finding(
                        name,
                        "Kailash SDK",
                        f"security/probes/{name}.py",
                        "the probe",
                        "—",
                        FAILS,
                        f"the probe failed: {exc!r}"[:400],
                    )
                ]
            for finding in found:
                print(f"  {finding.side}: {finding.verdict}: {finding.reason}", flush=True)
            findings += found
        server = _server_version(context.postgresql_url)
    for path in write_report(findings, args.out, started, (load_before, os.getloadavg()), server):
        print(f"[security] wrote {path}")
    return 0


def run_probe(name: str, module, context) -> list[Finding]:
    """The probe's findings; a component that cannot be imported is not measurable here (naming the import),
    and a probe that breaks is reported as such, never dropped."""
    try:
        return module.run(context)
    except ImportError as exc:
        reason = f"cannot import {exc.name or '?'}: {exc}"
        return [Finding(name, KAILASH, exc.name or "?", f"security/probes/{name}.py", "—", UNKNOWN, reason)]
    except Exception as exc:
        reason = f"the probe failed: {exc!r}"[:400]
        return [Finding(name, KAILASH, f"security/probes/{name}.py", "the probe", "—", FAILS, reason)]


def _server_version(url: str | None) -> str | None:
    if not url:
        return None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as connection:
            return connection.execute(text("select version()")).scalar().split(" on ")[0]
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())

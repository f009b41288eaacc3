"""How the history's reports are stored: the kit's JSON report, compact and gzipped (a full pack's report is about
1 MB of JSON, 60 kB compressed; a history holds one per release and backend), with this machine's paths replaced
so that committed files name none."""

import gzip
import json
from pathlib import Path

SUFFIX = ".json.gz"


def write(path: Path, report: dict, paths: dict[str, str]) -> None:
    """`paths`: machine path -> what stands for it (`<env>`, `~`); longest first, so a path inside another is
    replaced as a whole."""
    text = json.dumps(report, separators=(",", ":"), ensure_ascii=False, default=str)
    for machine, name in sorted(paths.items(), key=lambda item: -len(item[0])):
        if machine:
            text = text.replace(machine, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))  # same bytes for the same report


def read(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))

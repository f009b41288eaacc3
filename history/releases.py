"""The releases of a package on the index and the day each was published (PyPI's JSON API: one request)."""

import datetime as dt
import json
import urllib.request
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version  # noqa: F401 (Version: used by callers)

PACKAGE = "kailash-dataflow"
INDEX = "https://pypi.org/pypi"


@dataclass(frozen=True)
class Release:
    version: str
    uploaded: dt.datetime  # the first file's upload time (UTC)
    yanked: bool = False

    @property
    def cutoff(self) -> dt.datetime:
        """The end of the release day (UTC): what a user could resolve on the day the release came out. The
        Kailash core of a release is often published minutes after it, so the upload instant itself is too early."""
        day = self.uploaded.astimezone(dt.timezone.utc).date()
        return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.timezone.utc)

    @property
    def minor(self) -> tuple[int, int]:
        release = Version(self.version).release
        return (release[0], release[1] if len(release) > 1 else 0)


def parse(index_json: dict) -> list[Release]:
    """The releases of a PyPI JSON document, oldest version first; versions without files are left out
    (nothing to install), and so are versions that are not PEP 440."""
    found = []
    for version, files in index_json.get("releases", {}).items():
        if not files:
            continue
        try:
            Version(version)
        except InvalidVersion:
            continue
        uploaded = min(dt.datetime.fromisoformat(f["upload_time_iso_8601"].replace("Z", "+00:00")) for f in files)
        found.append(Release(version, uploaded, all(f.get("yanked", False) for f in files)))
    return sorted(found, key=lambda r: Version(r.version))


def fetch(package: str = PACKAGE, index: str = INDEX, timeout: float = 30) -> list[Release]:
    with urllib.request.urlopen(f"{index}/{package}/json", timeout=timeout) as answer:  # noqa: S310 (https)
        return parse(json.load(answer))


def select(releases: list[Release], specs: list[str] | tuple[str, ...] = ()) -> list[Release]:
    """The releases any of the specifiers admits (`>=2.19`, `==2.20.1`; each one may combine clauses with commas,
    which must all hold); every release when none is given. Pre-releases count: the index offers them to anyone
    who pins them."""
    if not specs:
        return list(releases)
    sets = [SpecifierSet(spec, prereleases=True) for spec in specs]
    return [r for r in releases if any(Version(r.version) in s for s in sets)]


def last_of_each_minor(releases: list[Release]) -> set[str]:
    """The newest release of each minor version (2.19.1 of 2.19.x): the ones also run on the server backends."""
    newest: dict[tuple[int, int], Release] = {}
    for release in releases:
        if release.minor not in newest or Version(release.version) > Version(newest[release.minor].version):
            newest[release.minor] = release
    return {r.version for r in newest.values()}

"""What a report must say about where it was measured: the machine, its load, the packages' versions; and
the wait for an idle machine before measuring."""

import os
import platform
import time
from importlib.metadata import PackageNotFoundError, version

import psutil


def busy(load_1min: float, cores: int) -> bool:
    """Whether a 1-minute load average says the machine is not idle: above half its cores."""
    return load_1min > cores / 2


def settle(most_seconds: float, log) -> None:
    """Wait up to `most_seconds` for the machine to be idle (see `busy`): whatever else runs, or the
    previous backend's run, would otherwise skew every number; the report still says what the load
    was when the run began."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + most_seconds
    if busy(os.getloadavg()[0], cores) and most_seconds > 0:
        log(f"waiting up to {most_seconds:.0f} s for the 1-minute load average to fall to {cores / 2:g}")
    while busy(os.getloadavg()[0], cores) and time.monotonic() < deadline:
        time.sleep(5)


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
    }


def versions(packages) -> dict[str, str]:
    """Each distribution's installed version, or "not installed"."""
    return {name: package_version(name) for name in packages}


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def load_text(load) -> str:
    """A load average (1 / 5 / 15 min) as reports show it."""
    return " / ".join(f"{x:.1f}" for x in load)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"

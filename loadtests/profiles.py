"""Run profiles: how long each phase runs and how far the step load climbs.

smoke: a CI check that every job works (about 30 s of load per job and backend, all variants or apps together;
       the backends side by side).
short: the default `nox -s loadtests` run (a few minutes on 2 cores for all configured backends).
full:  longer phases, more steps, and Locust's distributed mode for the HTTP job.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    # In-process job: seconds each operation runs with one Locust user, one side at a time (the first
    # second of each phase stops the previous operation's user). A phase goes on past its seconds until the
    # operation has `min_samples` requests, for at most `max_phase_seconds` (the report flags a cell short of it).
    phase_seconds: dict[str, float]
    min_samples: int
    max_phase_seconds: float
    # HTTP job: the step-load shape, per app.
    steps: tuple[int, ...]  # simultaneous users at each step; the load stops after the first step not sustained
    step_seconds: float
    p95_bound_ms: float  # a step is sustained when its p95 stays under this and nothing fails
    think_time: tuple[float, float]  # seconds a simulated user waits between requests
    locust_processes: int  # 1 = one process; -1 = one worker per core (Locust's --processes)
    server_workers: int  # worker processes of each app server (the same for both apps)
    seed_users: int  # users on each side before the run (each in 2 of 10 groups)
    # Before each backend's run, wait up to this long for the 1-minute load average to fall to half
    # the cores: the previous backend's run still shows in it for a minute or two.
    settle_seconds: float
    # Run the backends side by side (smoke: its times are not read as measurements); a measuring profile runs
    # them one after the other, so that they never compete for the CPU.
    backends_side_by_side: bool = False


# The step load doubles from 10 users, so the knee (the last step sustained, the first not) is found within a
# factor of two on both sides, whatever the backend.
DOUBLING = tuple(10 * 2**n for n in range(11))

PROFILES = {
    "smoke": Profile(
        name="smoke",
        phase_seconds={"create_user": 2, "bulk_import": 2, "check_permission": 2, "list_users": 2},
        min_samples=1,  # a check that the jobs work, not a measurement
        max_phase_seconds=2,
        steps=DOUBLING[:1],  # one step: the HTTP job serves and answers; capacity is the short profile's
        step_seconds=5,
        p95_bound_ms=500,
        think_time=(0.5, 1.5),
        locust_processes=1,
        server_workers=2,
        seed_users=200,
        settle_seconds=0,  # a check that the jobs work: its times are not read as measurements
        backends_side_by_side=True,
    ),
    "short": Profile(
        name="short",
        phase_seconds={"create_user": 3, "bulk_import": 3, "check_permission": 4, "list_users": 3},
        min_samples=30,
        max_phase_seconds=60,
        steps=DOUBLING[:8],  # 10 to 1,280 users
        step_seconds=5,
        p95_bound_ms=500,
        think_time=(0.5, 1.5),
        locust_processes=1,
        server_workers=2,
        seed_users=500,
        settle_seconds=180,
    ),
    "full": Profile(
        name="full",
        phase_seconds={"create_user": 40, "bulk_import": 30, "check_permission": 20, "list_users": 10},
        min_samples=30,
        max_phase_seconds=300,
        steps=DOUBLING,  # 10 to 10,240 users: past the claimed 10,000
        step_seconds=30,
        p95_bound_ms=500,
        think_time=(0.5, 1.5),
        locust_processes=-1,
        server_workers=2,
        seed_users=10000,
        settle_seconds=300,
    ),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise SystemExit(f"loadtests: unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None

"""In-process job: each operation runs alone, with one Locust user, on one side (one process per
side): the per-operation latency the claims are about, without HTTP or contention.

The side's code runs in the Locust process and every call fires `events.request` (request_type =
the variant, name = the operation); a wrong answer counts as a failure. The runner starts this file
with LOCUST_SKIP_MONKEY_PATCH=1: the calls are blocking (Django's drivers; DataFlow's own event-loop
thread), and gevent's patched threads would turn that thread into a greenlet.
"""

import os
import random
import time

from locust import LoadTestShape, User, constant, events, task

from harness import workload
from harness.django_side import SETTINGS_MODULE
from loadtests.plan import read_plan

PLAN = read_plan()
VARIANT = PLAN["variant"]


def _open_side():
    if PLAN["side"] == "django":
        import django

        os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
        django.setup()
        from django.contrib.auth.hashers import make_password

        from harness.django_side import auth_ops

        return auth_ops, make_password(workload.PASSWORD), lambda: None
    from kailash.nodes.admin.user_management import hash_password

    from harness.dataflow_side import DataFlowAuth, open_dataflow

    auth = DataFlowAuth(open_dataflow(PLAN["side"], PLAN["database_url"], PLAN["table_prefix"]))
    return auth, hash_password(workload.PASSWORD), auth.close


SIDE, PASSWORD_HASH, CLOSE = _open_side()
NAMES = workload.UserNames(f"{PLAN['table_prefix']}-{os.getpid()}-{random.randrange(16**6):06x}")
CHECKS = workload.permission_checks(len(PLAN["user_ids"]), random.Random(PLAN["rng_seed"]))
PAGES = len(PLAN["user_ids"]) // workload.PAGE_SIZE


@events.quitting.add_listener
def _close(**_kwargs):
    CLOSE()


class OperationUser(User):
    abstract = True
    # A real (1 ms) timer wait: with a zero wait, gevent never runs the timers of Locust's shape greenlet.
    wait_time = constant(0.001)

    def measure(self, operation: str, call, check=None):
        """Time one call and report it to Locust; `check(result)` returns an error text for a wrong answer."""
        start = time.perf_counter()
        error = None
        try:
            result = call()
        except Exception as exc:  # reported to Locust as the failure, the run goes on
            error = exc
        elapsed_ms = (time.perf_counter() - start) * 1000
        if error is None and check is not None and (problem := check(result)):
            error = AssertionError(problem)
        events.request.fire(
            request_type=VARIANT,
            name=operation,
            response_time=elapsed_ms,
            response_length=0,
            exception=error,
            context={},
        )


class CreateUser(OperationUser):
    @task
    def create_user(self):
        user = NAMES.next()
        self.measure("create_user", lambda: SIDE.create_user(user["username"], user["email"], workload.PASSWORD))


class BulkImport(OperationUser):
    @task
    def bulk_import(self):
        rows = [{**user, "password": PASSWORD_HASH} for user in NAMES.batch(workload.BULK_SIZE)]
        self.measure(
            "bulk_import",
            lambda: SIDE.bulk_import(rows),
            lambda inserted: None if inserted == len(rows) else f"{inserted} of {len(rows)} users stored",
        )


class CheckPermission(OperationUser):
    @task
    def check_permission(self):
        index, codename = next(CHECKS)
        expected = workload.expected_permission(index, codename)
        self.measure(
            "check_permission",
            lambda: SIDE.has_perm(PLAN["user_ids"][index], codename),
            lambda allowed: (
                None if allowed == expected else f"has_perm({codename}) gave {allowed}, expected {expected}"
            ),
        )


class ListUsers(OperationUser):
    @task
    def list_users(self):
        page = random.randrange(PAGES)
        self.measure(
            "list_users",
            lambda: SIDE.list_users(page),
            lambda users: None if len(users) == workload.PAGE_SIZE else f"page of {len(users)} users",
        )


OPERATIONS = {
    "create_user": CreateUser,
    "bulk_import": BulkImport,
    "check_permission": CheckPermission,
    "list_users": ListUsers,
}


class OperationPhases(LoadTestShape):
    """One user of one operation at a time: each operation runs for its seconds in the plan, and on until it has
    the plan's minimum of requests (at most the plan's longest phase), so that no claim rests on a handful."""

    def __init__(self):
        super().__init__()
        self.phases = list(PLAN["phases"].items())
        self.current, self.started = None, 0.0

    def tick(self):
        now = self.get_run_time()
        while self.phases and self.current == self.phases[0][0] and self.phase_done(now):
            self.phases.pop(0)
        if not self.phases:
            return None
        operation = self.phases[0][0]
        if operation != self.current:
            # Locust keeps a running user when only the class changes at the same count: stop it for one tick.
            self.current, self.started = operation, now
            return 0, 1, [OPERATIONS[operation]]
        return 1, 1, [OPERATIONS[operation]]

    def phase_done(self, now: float) -> bool:
        elapsed = now - self.started
        if elapsed >= PLAN["max_phase_seconds"]:
            return True
        done = self.runner.stats.get(self.current, VARIANT).num_requests
        return elapsed >= self.phases[0][1] and done >= PLAN["min_samples"]

"""HTTP job: simulated users against one app server (DataFlow's ASGI app or the Django app), with a
step-load shape that finds the largest number of simultaneous users the app sustains.

A step is sustained when its p95 stays under the plan's bound and no request fails (a wrong
permission answer is a failure too). The shape stops after the first step that is not sustained and
writes every step's numbers (users, requests, failures, p50/p95/p99, mean, throughput) to the plan's
steps file, so that the runner can match them with the server's memory.
"""

import json
import random
import time
from pathlib import Path

from locust import FastHttpUser, LoadTestShape, between, task
from locust.stats import calculate_response_time_percentile

from harness import workload
from loadtests.plan import read_plan

PLAN = read_plan()
USER_IDS = PLAN["user_ids"]


class AdminUser(FastHttpUser):
    """A user of the user-management API: mostly permission checks, some listing, 1% sign-ups (each
    hashes a password for ~300 ms of CPU, so more sign-ups would turn this into a hashing benchmark)."""

    wait_time = between(*PLAN["think_time"])

    @task(75)
    def check_permission(self):
        index, codename = random.randrange(len(USER_IDS)), random.choice(workload.PERMISSIONS)
        expected = workload.expected_permission(index, codename)
        path = f"/users/{USER_IDS[index]}/permissions/{codename}"
        with self.client.get(path, name="check_permission", catch_response=True) as response:
            if response.status_code == 200 and response.json()["allowed"] != expected:
                response.failure(f"has_perm({codename}) gave {not expected}, expected {expected}")

    @task(24)
    def list_users(self):
        page = random.randrange(len(USER_IDS) // workload.PAGE_SIZE)
        self.client.get(f"/users?page={page}", name="list_users")

    @task(1)
    def create_user(self):
        name = f"http-{random.randrange(16**12):012x}"
        body = {"username": name, "email": f"{name}@example.com", "password": workload.PASSWORD}
        self.client.post("/users", json=body, name="create_user")


class StepLoad(LoadTestShape):
    def __init__(self):
        super().__init__()
        self.steps, self.results = PLAN["steps"], []
        self.step_seconds, self.bound = PLAN["step_seconds"], PLAN["p95_bound_ms"]
        self.current, self.snapshot = -1, None

    def tick(self):
        step = int(self.get_run_time() // self.step_seconds)
        if step != self.current:
            if self.current >= 0 and not self.finish_step():
                return None  # the app did not sustain this step: no point in more load
            if step >= len(self.steps):
                return None
            self.current, self.snapshot = step, self.take_snapshot()
        users = self.steps[self.current]
        return users, users  # every user of a step starts within about a second

    def take_snapshot(self):
        total = self.runner.stats.total
        return {
            "time": time.time(),
            "requests": total.num_requests,
            "failures": total.num_failures,
            "response_time_sum": total.total_response_time,
            "histogram": dict(total.response_times),
        }

    def finish_step(self) -> bool:
        """Record the step that just ended (from the difference of Locust's totals); True when sustained."""
        now, before = self.take_snapshot(), self.snapshot
        requests = now["requests"] - before["requests"]
        histogram = {ms: n - before["histogram"].get(ms, 0) for ms, n in now["histogram"].items()}
        histogram = {ms: n for ms, n in histogram.items() if n > 0}
        seconds = now["time"] - before["time"]

        def percentile(p):
            return calculate_response_time_percentile(histogram, requests, p) if requests else None

        mean_ms = (now["response_time_sum"] - before["response_time_sum"]) / requests if requests else None
        result = {
            "users": self.steps[self.current],
            "start": before["time"],
            "end": now["time"],
            "requests": requests,
            "failures": now["failures"] - before["failures"],
            "p50_ms": percentile(0.50),
            "p95_ms": percentile(0.95),
            "p99_ms": percentile(0.99),
            "mean_ms": mean_ms,
            "rps": requests / seconds,
            # Little's law: requests in flight = throughput x time in the system.
            "in_flight": requests / seconds * mean_ms / 1000 if requests else 0.0,
        }
        result["sustained"] = bool(requests) and result["failures"] == 0 and result["p95_ms"] <= self.bound
        self.results.append(result)
        Path(PLAN["steps_file"]).write_text(json.dumps(self.results, indent=1))
        return result["sustained"]

"""PNG plots for the report: HTTP latency percentiles and throughput over time (from Locust's
per-second history), and the in-process operations' p50/p95/p99 side by side; each with what it is judged
against: the p95 bound of the step load, and the claimed values of both sides (claims.toml)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from .results import read_history  # noqa: E402
from .verdicts import UNIT_SCALE, load_claims  # noqa: E402

PERCENTILE_STYLES = {"p50_ms": "-", "p95_ms": "--", "p99_ms": ":"}
CLAIMED_STYLES = {"dataflow": ("tab:green", "claimed DataFlow"), "django": ("tab:purple", "claimed Django")}


def draw(run_dir: Path, record: dict, out: Path, stem: str) -> list[Path]:
    histories = {app: read_history(run_dir / f"http-{app}") for app in record["apps"]}
    claims = load_claims()["claims"]
    bound = record["environment"]["settings"]["profile"]["p95_bound_ms"]
    paths = [
        _latency_over_time(histories, bound, out / f"{stem}-latency.png"),
        _throughput_over_time(histories, _claimed(claims, "step_load"), out / f"{stem}-throughput.png"),
        _operations(record, claims, out / f"{stem}-operations.png"),
    ]
    return [p for p in paths if p is not None]


def _claimed(claims: list[dict], measured_by: str, operation: str | None = None) -> dict[str, float]:
    """The claimed value of each side ("dataflow", "django") for a kind of measurement, in the plot's unit."""
    for claim in claims:
        if claim["measured_by"] == measured_by and claim.get("operation") == operation:
            scale = UNIT_SCALE.get(claim["unit"], 1.0)
            return {side: claim[side] * scale for side in CLAIMED_STYLES}
    return {}


def _draw_claimed(ax, claimed: dict[str, float]) -> None:
    for side, value in claimed.items():
        color, label = CLAIMED_STYLES[side]
        ax.axhline(value, color=color, linestyle="-.", linewidth=1, label=f"{label} ({value:,.0f})")


def _latency_over_time(histories: dict, bound: float, path: Path) -> Path | None:
    if not any(histories.values()):
        return None
    figure, axes = plt.subplots(1, len(histories), figsize=(6 * len(histories), 4), sharey=True, squeeze=False)
    for ax, (app, rows) in zip(axes[0], histories.items(), strict=True):
        start = rows[0]["time"] if rows else 0
        seconds = [r["time"] - start for r in rows]
        for key, style in PERCENTILE_STYLES.items():
            ax.plot(seconds, [r[key] for r in rows], style, label=key.replace("_ms", ""))
        ax.axhline(bound, color="red", linestyle="-.", linewidth=1, label=f"p95 bound ({bound:,.0f} ms)")
        ax.set(title=f"{app} (HTTP)", xlabel="seconds", ylabel="response time, ms (last 10 s)")
        ax.set_yscale("log")
        users = ax.twinx()
        users.step(seconds, [r["users"] for r in rows], color="grey", alpha=0.4, where="post")
        users.set_ylabel("simulated users")
        ax.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _throughput_over_time(histories: dict, claimed_users: dict[str, float], path: Path) -> Path | None:
    if not any(histories.values()):
        return None
    figure, ax = plt.subplots(figsize=(8, 4))
    users = ax.twinx()
    for app, rows in histories.items():
        start = rows[0]["time"] if rows else 0
        seconds = [r["time"] - start for r in rows]
        ax.plot(seconds, [r["rps"] for r in rows], label=f"{app} requests/s")
        users.step(seconds, [r["users"] for r in rows], alpha=0.3, where="post", label=f"{app} users")
    _draw_claimed(users, claimed_users)
    users.set_yscale("log")  # the claimed users (up to 10,000) and the steps reached share the axis
    ax.set(title="Throughput over time (HTTP step load)", xlabel="seconds", ylabel="requests/s")
    users.set_ylabel("simulated users")
    ax.legend(loc="upper left")
    users.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _operations(record: dict, claims: list[dict], path: Path) -> Path | None:
    operations = sorted({op for v in record["variants"].values() for op in v["operations"]})
    if not operations:
        return None
    figure, axes = plt.subplots(1, len(operations), figsize=(4 * len(operations), 4), squeeze=False)
    for ax, operation in zip(axes[0], operations, strict=True):
        names = [n for n, v in record["variants"].items() if operation in v["operations"]]
        for offset, key in enumerate(PERCENTILE_STYLES):
            values = [record["variants"][n]["operations"][operation][key] or 0 for n in names]
            ax.bar(
                [i + (offset - 1) * 0.27 for i in range(len(names))], values, width=0.27, label=key.replace("_ms", "")
            )
        _draw_claimed(ax, _claimed(claims, "inprocess", operation))
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set(title=operation, ylabel="ms (in process)")
        # the claims (seconds for the bulk import) and the measured milliseconds share the axis
        ax.set_yscale("log", nonpositive="clip")
        ax.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path

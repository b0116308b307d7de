"""bench/ha.py's tables: failover per time to live, and ack latency per run with the
machine's load and where its slowest requests fell; written to bench/results/ha.{md,json}."""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench.ack_latency import percentile

RESULTS = Path(__file__).resolve().parent / "results"


def _failover_lines(ttl: float, runs: list[dict[str, float]]) -> list[str]:
    goal = ttl + ttl / 3
    swept = [run["swept_s"] for run in runs]
    return [
        f"### Time to live {ttl:g} s, renewed every {ttl / 3:g} s",
        "",
        "| run | lease taken s | lock swept s |",
        "|---:|---:|---:|",
        *(
            f"| {i + 1} | {run['lease_taken_s']:.2f} | {run['swept_s']:.2f} |"
            for i, run in enumerate(runs)
        ),
        "",
        f"swept: max {max(swept):.2f} s, mean {sum(swept) / len(swept):.2f} s; goal at most "
        f"{goal:.2f} s (time to live + one renewal period): "
        f"{'met' if max(swept) <= goal else 'MISSED'}.",
        "",
    ]


def _stall_rounds(latency: dict[str, list[float]], name: str) -> int:
    """In how many rounds the slowest 1% of `name`'s requests fell: few rounds mean the
    tail is a few stalls of the machine, not a cost every request pays."""
    values, rounds = latency[name], latency[f"{name} round"]
    slowest = sorted(range(len(values)), key=values.__getitem__)[-max(1, len(values) // 100) :]
    return len({rounds[i] for i in slowest})


def _rounds(latency: dict[str, list[float]]) -> str:
    if "load" not in latency:
        return ""
    return " / ".join(str(_stall_rounds(latency, n)) for n in ("one process", "two processes"))


def _load(latency: dict[str, list[float]]) -> str:
    """The 1-minute load average at the run's start and end ("" when pooled)."""
    if "load" not in latency:
        return ""
    start, end = latency["load"]
    return f"{start:.1f} → {end:.1f}"


def _latency_row(run: int, latency: dict[str, list[float]]) -> tuple[str, float]:
    one, two = latency["one process"], latency["two processes"]
    ratio = percentile(two, 0.99) / percentile(one, 0.99)
    row = (
        f"| {run} | {percentile(one, 0.5) * 1000:.2f} | {percentile(one, 0.99) * 1000:.2f} | "
        f"{percentile(two, 0.5) * 1000:.2f} | {percentile(two, 0.99) * 1000:.2f} | "
        f"{ratio:.2f} | {_load(latency)} | {_rounds(latency)} |"
    )
    return row, ratio


def report(
    options: argparse.Namespace,
    latency: list[dict[str, list[float]]],
    failovers: dict[float, list[dict[str, float]]],
) -> None:
    """Print the tables and write them, with the raw numbers, to bench/results/."""
    rows = [_latency_row(i + 1, run) for i, run in enumerate(latency)]
    ratios = [ratio for _row, ratio in rows]
    pooled = {
        name: [value for run in latency for value in run[name]]
        for name in ("one process", "two processes")
    }
    pooled_row, pooled_ratio = _latency_row(0, pooled)
    lines = [
        "# Two processes on one PostgreSQL",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs.",
        "",
        "## Failover",
        "",
        "Time from SIGKILL of the lease holder to the other process holding the lease (its",
        "/healthz, polled every 20 ms) and to its sweeper having expired a lock that ran out",
        "(the singleton work running).",
        "",
        *(line for ttl, runs in failovers.items() for line in _failover_lines(ttl, runs)),
        f"## Ack latency, `/ops help`, concurrency {options.concurrency}",
        "",
        "Both setups behind the same round-robin TCP proxy on loopback; per run, "
        f"{len(latency[0]['one process'])} requests each in {options.rounds} alternating "
        "rounds, with a fresh pair of processes. The load average counts this bench's own "
        "processes (the load generator, the proxy, the opsloop processes) with everything "
        "else the machine runs.",
        "",
        "| run | one p50 ms | one p99 ms | two p50 ms | two p99 ms | p99 ratio | load (1 min) "
        "| rounds with the slowest 1% (one / two) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(row for row, _ratio in rows),
        pooled_row.replace("| 0 |", "| all |", 1),
        "",
        f"p99 ratio (two / one) per run: {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"of all runs pooled {pooled_ratio:.2f}; goal at most 1.10: "
        f"{'met' if pooled_ratio <= 1.1 else 'MISSED'} pooled, "
        f"{sum(r <= 1.1 for r in ratios)} of {len(ratios)} runs met it.",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ha.md").write_text(table)
    summary = {
        "failover": [
            {"ttl_s": ttl, "goal_s": ttl + ttl / 3, "runs": runs} for ttl, runs in failovers.items()
        ],
        "latency_runs": [
            {
                "one_p50_ms": percentile(run["one process"], 0.5) * 1000,
                "one_p99_ms": percentile(run["one process"], 0.99) * 1000,
                "two_p50_ms": percentile(run["two processes"], 0.5) * 1000,
                "two_p99_ms": percentile(run["two processes"], 0.99) * 1000,
                "p99_ratio": ratio,
                "load_1min": run["load"],
                "rounds_with_slowest_1pct": {
                    n: _stall_rounds(run, n) for n in ("one process", "two processes")
                },
            }
            for run, ratio in zip(latency, ratios, strict=True)
        ],
        "pooled_p99_ratio": pooled_ratio,
        "requests_each_per_run": len(latency[0]["one process"]),
        "concurrency": options.concurrency,
    }
    (RESULTS / "ha.json").write_text(json.dumps(summary, indent=2) + "\n")

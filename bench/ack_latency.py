"""Slash-command acknowledgement latency: opsloop against a bare slack-bolt app, in one run.

    .venv/bin/python -m bench.ack_latency [--requests 600] [--rounds 3]

Both apps are served by the same HTTP edge (bot/slack/http_server.py) in this process, so
the difference is what opsloop adds on the way to the ack: Bolt's middleware, the router,
and the handler work that runs after the ack and competes for the same two cores. The bare
app is Bolt with its defaults and a listener that only calls ack(). Slack is the local
workspace in its own process; the load comes from another process (bench/load.py).
Writes bench/results/ack_latency.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.app import build
from bot.config import load_config
from bot.metrics import Metrics
from bot.settings import Settings
from bot.slack.http_server import SlackHttpServer

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
CONCURRENCY = (1, 10, 50)
TOKEN = "xoxb-0000-bench-token"
COMMAND_TEXT = "help"


@dataclass
class Target:
    """One app under load."""

    name: str
    events_url: str
    secret: str


def bare_bolt_app(api_url: str, secret: str) -> App:
    """The baseline: slack-bolt with its defaults, acknowledging every command and nothing else."""
    app = App(client=WebClient(token=TOKEN, base_url=api_url), signing_secret=secret)

    @app.command(re.compile(".*"))
    def only_ack(ack: Ack) -> None:
        ack()

    return app


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the values lie (nearest rank)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[rank]


def load(target: Target, count: int, concurrency: int, response_url: str) -> list[float]:
    """Run the load generator against one target and return its latencies."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.load", target.events_url, target.secret, str(count),
         str(concurrency), COMMAND_TEXT, response_url],
        capture_output=True, text=True, check=True, cwd=REPO, timeout=600,
    )  # fmt: skip
    latencies: list[float] = json.loads(completed.stdout)
    return latencies


def main() -> int:
    """Run the benchmark, print the table and keep it in bench/results/."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=600, help="per app and concurrency")
    parser.add_argument("--rounds", type=int, default=3, help="alternations between the apps")
    options = parser.parse_args()

    slack = subprocess.Popen(
        [sys.executable, "-m", "bench.workspace_process", TOKEN],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    assert slack.stdout is not None and slack.stdin is not None
    api_url, response_url = slack.stdout.readline().split()
    with tempfile.TemporaryDirectory() as scratch:
        secret = secrets.token_hex(16)
        settings = Settings(
            bot_token=TOKEN,
            signing_secret=secret,
            api_url=api_url,
            database_url=f"sqlite:///{scratch}/bench.db",
            state_dir=Path(scratch) / "state",
        )
        bot = build(settings, load_config(REPO / "bot/sandbox/opsloop.yml", {}))
        ours = bot.start()
        bare = SlackHttpServer(
            bare_bolt_app(api_url, secret), Metrics(), dict, signing_secret=secret
        )
        bare.start()
        targets = [
            Target("bare slack-bolt", bare.events_url, secret),
            Target("opsloop", ours.events_url, secret),
        ]
        for target in targets:
            load(target, 100, 10, response_url)  # warm up: imports, auth.test, pools
        per_round = max(1, options.requests // options.rounds)
        samples: dict[tuple[str, int], list[float]] = {}
        for concurrency in CONCURRENCY:
            for round_index in range(options.rounds):
                order = targets if round_index % 2 == 0 else targets[::-1]
                for target in order:
                    key = (target.name, concurrency)
                    samples.setdefault(key, []).extend(
                        load(target, per_round, concurrency, response_url)
                    )
        bot.stop()
        bare.stop()
    slack.stdin.close()
    slack.wait(timeout=10)
    report(samples, options.requests, options.rounds)
    return 0


def report(samples: dict[tuple[str, int], list[float]], requests: int, rounds: int) -> None:
    """Print the table and write it, with the raw summary, to bench/results/."""
    rows = []
    for concurrency in CONCURRENCY:
        bare = samples[("bare slack-bolt", concurrency)]
        ours = samples[("opsloop", concurrency)]
        row = {
            "concurrency": concurrency,
            "requests_each": len(ours),
            "bare_p50_ms": percentile(bare, 0.50) * 1000,
            "bare_p99_ms": percentile(bare, 0.99) * 1000,
            "opsloop_p50_ms": percentile(ours, 0.50) * 1000,
            "opsloop_p99_ms": percentile(ours, 0.99) * 1000,
            "opsloop_mean_ms": statistics.fmean(ours) * 1000,
            "bare_mean_ms": statistics.fmean(bare) * 1000,
        }
        row["p99_ratio"] = row["opsloop_p99_ms"] / row["bare_p99_ms"]
        rows.append(row)
    lines = [
        "# Slash-command acknowledgement latency",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, command `/ops {COMMAND_TEXT}`, "
        f"{requests} requests per app and concurrency in {rounds} alternating rounds.",
        "",
        "| concurrency | bare p50 ms | bare p99 ms | opsloop p50 ms | opsloop p99 ms | p99 ratio |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['concurrency']} | {r['bare_p50_ms']:.2f} | {r['bare_p99_ms']:.2f} | "
        f"{r['opsloop_p50_ms']:.2f} | {r['opsloop_p99_ms']:.2f} | {r['p99_ratio']:.2f} |"
        for r in rows
    ]
    lines += ["", "Goal: opsloop's p99 within 1.25x of the bare app's."]
    table = "\n".join(lines) + "\n"
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ack_latency.md").write_text(table)
    (RESULTS / "ack_latency.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())

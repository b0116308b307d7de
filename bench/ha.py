"""Two opsloop processes on one PostgreSQL: failover time and ack latency, in one run.

    .venv/bin/python -m bench.ha [--ttl 3] [--failovers 5] [--requests 600] [--rounds 3]

Failover: two `opsloop serve` processes share a fresh schema; the lease holder is killed
(SIGKILL), an approval-free lock that ran out is put in the store at that moment, and the
time until the other process's sweeper has expired it is measured (the lease taken over
and the singleton work running), then a new standby is started and the next round begins.
Goal: at most the lease's time to live plus one renewal period (TTL/3).

Ack latency: signed `/ops help` commands from a load process (bench/load.py) through a small
round-robin TCP proxy on loopback (bench/rr_proxy.py) with both processes behind it, against
the same proxy with one process behind it, in alternating rounds. Goal: p99 no worse than
1.1x. Slack is the local workspace in its own process. PostgreSQL: --postgres, else
OPSLOOP_TEST_POSTGRES_URL (scripts/ensure-postgres starts one). Writes bench/results/ha.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, insert, select, text

from bench.ack_latency import Target, load, percentile
from bench.rr_proxy import RoundRobinProxy
from bot.store.env_locks import env_locks

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
TOKEN = "xoxb-0000-bench-token"
LISTENING = re.compile(r"opsloop listening on http://127\.0\.0\.1:(\d+)/slack/events")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5433/opsloop_test"
CONFIG = """
slack:
  ops_channel: C0OPS
services:
  web:
    repo: ./web
    image: 127.0.0.1:5000/web
environments:
  staging: {}
"""


class Process:
    """One `opsloop serve` subprocess and the port it listens on."""

    def __init__(self, env: dict[str, str]) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", "0"],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self._port: int | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            if self._port is None and (found := LISTENING.search(line)):
                self._port = int(found.group(1))
                self._ready.set()
        self._ready.set()

    @property
    def port(self) -> int:
        """The port, once it listens (RuntimeError when it ended first)."""
        self._ready.wait(60)
        if self._port is None:
            raise RuntimeError("opsloop serve ended before it listened")
        return self._port

    def leases(self) -> list[str]:
        """The leases /healthz says it holds ([] when it does not answer)."""
        try:
            return list(
                httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).json()["leases"]
            )
        except (httpx.HTTPError, RuntimeError):
            return []

    def end(self) -> None:
        """SIGTERM, and wait."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            self.popen.wait(60)


def wait_until(condition: object, timeout: float, poll: float = 0.01) -> float:
    """Seconds until `condition()` held (polling every `poll` s); TimeoutError after `timeout`."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise TimeoutError("the condition never held")
        time.sleep(poll)
    return time.monotonic() - started


def main() -> int:
    """Run both measurements, print the table and keep it in bench/results/."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ttl", type=float, default=3.0, help="OPSLOOP_LEASE_SECONDS")
    parser.add_argument("--failovers", type=int, default=5)
    parser.add_argument("--requests", type=int, default=600, help="per setup")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--postgres", default=os.environ.get("OPSLOOP_TEST_POSTGRES_URL")
                        or DEFAULT_POSTGRES)  # fmt: skip
    options = parser.parse_args()
    slack = subprocess.Popen(
        [sys.executable, "-m", "bench.workspace_process", TOKEN],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    assert slack.stdout is not None and slack.stdin is not None
    api_url, response_url = slack.stdout.readline().split()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(options.postgres)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{options.postgres}?options=-csearch_path%3D{schema}"
    try:
        with tempfile.TemporaryDirectory() as scratch:
            env = _env(Path(scratch), api_url, url, options.ttl)
            latency = _ack_latency(env, options, response_url)
            failovers = _failovers(env, url, options)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        slack.stdin.close()
        slack.wait(timeout=10)
    report(options, latency, failovers)
    return 0


def _env(scratch: Path, api_url: str, database_url: str, ttl: float) -> dict[str, str]:
    (scratch / "opsloop.yml").write_text(CONFIG)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSLOOP_"))}
    return {
        **clean, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": secrets.token_hex(16),
        "SLACK_API_URL": api_url, "OPSLOOP_CONFIG": str(scratch / "opsloop.yml"),
        "OPSLOOP_DATABASE_URL": database_url, "OPSLOOP_STATE_DIR": str(scratch / "state"),
        "OPSLOOP_LEASE_SECONDS": f"{ttl:g}",
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
    }  # fmt: skip


def _ack_latency(
    env: dict[str, str], options: argparse.Namespace, response_url: str
) -> dict[str, list[float]]:
    first, second = Process(env), Process(env)
    one = RoundRobinProxy([("127.0.0.1", first.port)])
    two = RoundRobinProxy([("127.0.0.1", first.port), ("127.0.0.1", second.port)])
    secret = env["SLACK_SIGNING_SECRET"]
    targets = [
        Target("one process", f"http://127.0.0.1:{one.port}/slack/events", secret),
        Target("two processes", f"http://127.0.0.1:{two.port}/slack/events", secret),
    ]
    samples: dict[str, list[float]] = {target.name: [] for target in targets}
    try:
        for proxy in (one, two):
            proxy.start()
        for target in targets:
            load(target, 100, options.concurrency, response_url)  # warm up both
        per_round = max(1, options.requests // options.rounds)
        for index in range(options.rounds):
            for target in targets if index % 2 == 0 else targets[::-1]:
                samples[target.name] += load(target, per_round, options.concurrency, response_url)
    finally:
        one.stop()
        two.stop()
        first.end()
        second.end()
    return samples


def _failovers(
    env: dict[str, str], url: str, options: argparse.Namespace
) -> list[dict[str, float]]:
    engine = create_engine(url)
    processes = [Process(env)]
    wait_until(lambda: processes[0].leases() == ["singletons"], 60)  # taken as it starts
    runs = []
    try:
        for _round in range(options.failovers):
            standby = Process(env)
            processes.append(standby)
            if standby.port <= 0:  # waits until it listens
                raise RuntimeError("no port")
            holder = next(p for p in processes if p.popen.poll() is None and p.leases())
            holder.popen.kill()
            killed = time.monotonic()
            holder.popen.wait()
            past = datetime.now(UTC) - timedelta(minutes=1)
            with engine.begin() as connection:
                connection.execute(insert(env_locks).values(
                    env="staging", holder="U0ALICE", reason="bench", since=past,
                    expires_at=past, channel_id="C0DEV",
                ))  # fmt: skip

            def swept() -> bool:
                with engine.connect() as connection:
                    left = connection.execute(select(func.count()).select_from(env_locks))
                    return left.scalar_one() == 0

            wait_until(swept, options.ttl * 4)
            runs.append({"swept_s": time.monotonic() - killed,
                         "lease_held": float(bool(standby.leases()))})  # fmt: skip
    finally:
        for process in processes:
            process.end()
        engine.dispose()
    return runs


def report(
    options: argparse.Namespace, latency: dict[str, list[float]], failovers: list[dict[str, float]]
) -> None:
    """Print the tables and write them, with the raw numbers, to bench/results/."""
    goal = options.ttl + options.ttl / 3
    one, two = latency["one process"], latency["two processes"]
    ratio = percentile(two, 0.99) / percentile(one, 0.99)
    swept = [run["swept_s"] for run in failovers]
    lines = [
        "# Two processes on one PostgreSQL",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs.",
        "",
        f"## Failover (lease time to live {options.ttl:g} s, renewed every {options.ttl / 3:g} s)",
        "",
        "Time from SIGKILL of the lease holder to the other process's sweeper having expired a",
        "lock that ran out (lease taken over, singleton work running).",
        "",
        "| run | seconds |",
        "|---:|---:|",
        *(f"| {i + 1} | {s:.2f} |" for i, s in enumerate(swept)),
        "",
        f"max {max(swept):.2f} s, mean {sum(swept) / len(swept):.2f} s; goal at most "
        f"{goal:.2f} s (time to live + one renewal period): "
        f"{'met' if max(swept) <= goal else 'MISSED'}.",
        "",
        f"## Ack latency, `/ops help`, concurrency {options.concurrency}",
        "",
        "Both setups behind the same round-robin TCP proxy on loopback; "
        f"{len(one)} requests each in {options.rounds} alternating rounds.",
        "",
        "| setup | p50 ms | p99 ms |",
        "|---|---:|---:|",
        *(
            f"| {name} | {percentile(values, 0.5) * 1000:.2f} | "
            f"{percentile(values, 0.99) * 1000:.2f} |"
            for name, values in (("one process", one), ("two processes", two))
        ),
        "",
        f"p99 ratio (two / one) {ratio:.2f}; goal at most 1.10: "
        f"{'met' if ratio <= 1.1 else 'MISSED'}.",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ha.md").write_text(table)
    summary = {
        "ttl_s": options.ttl, "failover_goal_s": goal, "failover_s": swept,
        "one_p50_ms": percentile(one, 0.5) * 1000, "one_p99_ms": percentile(one, 0.99) * 1000,
        "two_p50_ms": percentile(two, 0.5) * 1000, "two_p99_ms": percentile(two, 0.99) * 1000,
        "p99_ratio": ratio, "requests_each": len(one), "concurrency": options.concurrency,
    }  # fmt: skip
    (RESULTS / "ha.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())

"""Two opsloop processes on one PostgreSQL: failover time and ack latency, in one run.

    .venv/bin/python -m bench.ha [--ttl 3] [--failovers 5] [--default-failovers 3]
                                 [--latency-runs 3] [--requests 1200] [--rounds 24]

Failover: two `opsloop serve` processes share a fresh schema; the lease holder is killed
(SIGKILL), an approval-free lock that ran out is put in the store at that moment, and the
time until the other process's sweeper has expired it is measured (the lease taken over
and the singleton work running), then a new standby is started and the next round begins.
It runs twice: with a short time to live (--ttl, 3 s) and with the default one (15 s,
renewed every 5 s). Goal: at most the lease's time to live plus one renewal period (TTL/3).

Ack latency: signed `/ops help` commands from a load process (bench/load.py) through a small
round-robin TCP proxy on loopback (bench/rr_proxy.py) with both processes behind it, against
the same proxy with one process behind it, in alternating rounds. --latency-runs separate
runs, each with a fresh pair of processes, give one p99 ratio each (the machine is shared, so
one run says little; the rounds are short, so that a stall of the shared machine falls on
both setups alike, and each run notes the machine's load average). Goal: p99 no worse than
1.1x. Slack is the local workspace in its own
process. PostgreSQL: --postgres, else OPSLOOP_TEST_POSTGRES_URL (scripts/ensure-postgres
starts one). Writes bench/results/ha.{md,json}.
"""

from __future__ import annotations

import argparse
import os
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
from sqlalchemy import Engine, create_engine, func, insert, select, text

from bench.ack_latency import Target, load
from bench.ha_report import report
from bench.rr_proxy import RoundRobinProxy
from bot.settings import DEFAULT_LEASE_SECONDS
from bot.store.env_locks import env_locks

REPO = Path(__file__).resolve().parent.parent
TOKEN = "xoxb-0000-bench-token"
LISTENING = re.compile(r"opsloop listening on http://127\.0\.0\.1:(\d+)/slack/events")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5433/opsloop_test"
DEFAULT_TTL = DEFAULT_LEASE_SECONDS
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
    parser.add_argument("--ttl", type=float, default=3.0, help="short OPSLOOP_LEASE_SECONDS")
    parser.add_argument("--failovers", type=int, default=5, help="runs at the short ttl")
    parser.add_argument("--default-failovers", type=int, default=3,
                        help=f"runs at the default ttl ({DEFAULT_TTL:g} s)")  # fmt: skip
    parser.add_argument("--latency-runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1200, help="per setup and run")
    parser.add_argument("--rounds", type=int, default=24,
                        help="alternations per run")  # fmt: skip
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
            latency = [
                _ack_latency(env, options, response_url) for _run in range(options.latency_runs)
            ]
            failovers = {
                options.ttl: _failovers(env, url, options.failovers, options.ttl),
                DEFAULT_TTL: _failovers(
                    _env(Path(scratch), api_url, url, DEFAULT_TTL), url,
                    options.default_failovers, DEFAULT_TTL,
                ),
            }  # fmt: skip
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
    samples |= {f"{target.name} round": [] for target in targets}
    samples["load"] = [os.getloadavg()[0]]
    try:
        for proxy in (one, two):
            proxy.start()
        for target in targets:
            load(target, 100, options.concurrency, response_url)  # warm up both
        per_round = max(1, options.requests // options.rounds)
        for index in range(options.rounds):
            for target in targets if index % 2 == 0 else targets[::-1]:
                got = load(target, per_round, options.concurrency, response_url)
                samples[target.name] += got
                samples[f"{target.name} round"] += [float(index)] * len(got)
        samples["load"].append(os.getloadavg()[0])
    finally:
        one.stop()
        two.stop()
        first.end()
        second.end()
    return samples


def _failovers(env: dict[str, str], url: str, runs: int, ttl: float) -> list[dict[str, float]]:
    engine = create_engine(url)
    processes = [Process(env)]
    wait_until(lambda: processes[0].leases() == ["singletons"], 60)  # taken as it starts
    measured = []
    try:
        for _round in range(runs):
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
            measured.append(_taken_over(engine, standby, killed, ttl))
    finally:
        for process in processes:
            process.end()
        engine.dispose()
    return measured


def _taken_over(engine: Engine, standby: Process, killed: float, ttl: float) -> dict[str, float]:
    """Seconds from `killed` until `standby` held the lease and until the lock was swept."""
    taken: list[float] = []

    def swept() -> bool:
        if not taken and standby.leases():
            taken.append(time.monotonic() - killed)
        with engine.connect() as connection:
            left = connection.execute(select(func.count()).select_from(env_locks))
            return left.scalar_one() == 0

    wait_until(swept, ttl * 4, poll=0.02)
    swept_s = time.monotonic() - killed
    return {"swept_s": swept_s, "lease_taken_s": taken[0] if taken else swept_s}


if __name__ == "__main__":
    raise SystemExit(main())

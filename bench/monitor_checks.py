"""The Monitor stage's own HTTP checks at scale, beside Prometheus's blackbox exporter.

1,000 loopback targets (bench.check_targets, in a process of their own) are checked every
10 s by opsloop's CheckLoop (its HTTP check client, SQLite store, alert desk, the outbox and its
courier; Slack replaced by a recorder that notes when each alert is posted) and, in the same
run, probed every 10 s through Debian's prometheus-blackbox-exporter (driven by a small
process standing in for Prometheus). After a third of the run a few targets start failing;
measured:

- opsloop's CPU share (this process: user + system time over wall time; goal at most 25% of
  one core), and the blackbox exporter's over the same window (from /proc), with CPU per probe;
- time from a target starting to fail to its alert being posted (goal at most
  interval x fail_after + 2 s = 32 s).

    python -m bench.monitor_checks [--seconds 60] [--targets 1000] [--runs 3]
                                   [--fresh-connections]

The targets share ten ports, so opsloop's checker keeps a few connections and uses them
again (as it would for a target whose server keeps an idle connection longer than the
check interval); the exporter connects anew for every probe. `--fresh-connections` makes
opsloop do the same (nothing kept) and writes monitor_checks_fresh.{md,json} instead.

Each run is reported (the machine is shared: other work on its two cores moves both
figures), with the load average when it began; the summary table is the run of median
opsloop CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine

from bench.check_targets import PORTS
from bot.app import SWITCH_INTERVAL
from bot.core.clock import SystemClock
from bot.core.delivery import OutboxCourier
from bot.core.monitor.model import CheckPolicy, DeployFacts, Watched
from bot.core.monitor.ports import Instance, Usage
from bot.core.monitor.stage import Monitoring, MonitorSettings, build_monitoring
from bot.core.outbox import Outbox
from bot.core.values import MessageRef, Reply
from bot.store.db import open_store
from bot.store.monitor import SqlMonitorStore
from bot.store.outbox import SqlOutboxStore
from integrations.http_checker import AsyncHttpChecker

RESULTS = Path(__file__).resolve().parent / "results"
INTERVAL, FAIL_AFTER, TIMEOUT = 10.0, 3, 2.0
FAILING = 5
CPU_GOAL = 25.0
BLACKBOX = "prometheus-blackbox-exporter"


class Recorder:
    """The Notifier port, noting when each alert was posted."""

    def __init__(self) -> None:
        self.posted: dict[str, float] = {}
        self._n = 0
        self._lock = threading.Lock()

    def post(self, channel_id: str, reply: Reply, thread_ts: str | None = None, *,
             broadcast: bool = False) -> MessageRef:  # fmt: skip
        with self._lock:
            self._n += 1
            if reply.text.count("Alert #") and "fails" in reply.text:
                service = reply.text.split("`")[3]
                self.posted.setdefault(service, time.monotonic())
            return MessageRef(channel_id, f"1700000000.{self._n:06d}")

    def update(self, ref: MessageRef, reply: Reply) -> None:
        """Edits are not measured."""

    def upload(self, channel_id: str, filename: str, content: bytes, comment: str,
               thread_ts: str | None = None) -> None:  # fmt: skip
        """Not used."""

    def respond(self, response_url: str, reply: Reply) -> None:
        """Not used."""

    def ephemeral(self, channel_id: str, user_id: str, reply: Reply) -> None:
        """Not used."""


class StaticFleet:
    """Each target is one deployment with one instance: no engine in the way."""

    def __init__(self, urls: dict[str, str]) -> None:
        self._urls = urls

    def instances(self, service: str, env: str, port: int | None, health: str) -> list[Instance]:
        return [Instance("container", service, self._urls[service], "1.0.0")]

    def usage(self, container_id: str) -> Usage:
        return Usage(None, None)


class NoDeploys:
    def last_deploy(self, service: str, env: str) -> DeployFacts | None:
        return None

    def deploying(self, service: str, env: str) -> bool:
        return False


def free_base() -> int:
    """A port with PORTS free ports from it on."""
    for base in range(21000, 40000, 97):
        try:
            for port in range(base, base + PORTS):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def proc_cpu(pid: int) -> float:
    """Seconds of CPU a process used so far (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(probe_url: str, targets: list[str], seconds: float) -> None:
    """Stand in for Prometheus: probe every target through the exporter every INTERVAL."""
    async with httpx.AsyncClient(timeout=5, limits=httpx.Limits(max_connections=100)) as client:
        gate = asyncio.Semaphore(100)

        async def one(target: str) -> None:
            async with gate:
                with contextlib.suppress(httpx.HTTPError):
                    await client.get(probe_url, params={"module": "http_2xx", "target": target})

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            await asyncio.gather(*(one(t) for t in targets))
            await asyncio.sleep(max(0.0, INTERVAL - (time.monotonic() - started)))


def opsloop_checks(
    engine: Engine,
    recorder: Recorder,
    watched: tuple[Watched, ...],
    urls: dict[str, str],
    keep: bool,
) -> tuple[Monitoring, OutboxCourier, AsyncHttpChecker]:
    """The Monitor stage as bot/monitor_wiring.py builds it, posting through the outbox."""
    clock = SystemClock()
    courier = OutboxCourier(SqlOutboxStore(engine), recorder, clock)
    courier.start()
    http = AsyncHttpChecker() if keep else AsyncHttpChecker(max_idle=0)
    http.start()
    monitoring = build_monitoring(
        settings=MonitorSettings("C0OPS", timedelta(minutes=30), watched),
        store=SqlMonitorStore(engine), clock=clock,
        outbox=Outbox(SqlOutboxStore(engine), clock, on_record=courier.wake),
        fleet=StaticFleet(urls), http=http, history=NoDeploys(), silencer=None,
    )  # fmt: skip
    return monitoring, courier, http


def run(seconds: float, count: int, folder: Path, keep: bool) -> dict[str, object]:
    base = free_base()
    targets = subprocess.Popen([sys.executable, "-m", "bench.check_targets", str(base)],
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert targets.stdout is not None and targets.stdout.readline().strip() == "ready"
    urls = {f"t{n}": f"http://127.0.0.1:{base + n % PORTS}/t/{n}" for n in range(count)}
    bb_port = free_port()
    (folder / "blackbox.yml").write_text(
        f"modules:\n  http_2xx:\n    prober: http\n    timeout: {TIMEOUT:g}s\n"
    )
    blackbox = subprocess.Popen(
        [BLACKBOX, f"--config.file={folder / 'blackbox.yml'}",
         f"--web.listen-address=127.0.0.1:{bb_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    probe_url = f"http://127.0.0.1:{bb_port}/probe"
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{bb_port}/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    driver = subprocess.Popen([sys.executable, "-m", "bench.monitor_checks", "--drive",
                               probe_url, str(seconds + 5), *urls.values()])  # fmt: skip
    policy = CheckPolicy(interval=INTERVAL, timeout=TIMEOUT, fail_after=FAIL_AFTER)
    watched = tuple(Watched(name, "bench", "container", 80, "/", policy) for name in urls)
    engine = open_store(f"sqlite:///{folder / 'bench.db'}")
    recorder = Recorder()
    sys.setswitchinterval(SWITCH_INTERVAL)  # as the bot runs (bot/app.py)
    monitoring, courier, http = opsloop_checks(engine, recorder, watched, urls, keep)
    # Made before the measured window: a new httpx client loads the CA bundle, and that CPU
    # would be counted as the checks'.
    breaker = httpx.Client(timeout=2, trust_env=False)
    try:
        bb_before, own_before, wall_before = proc_cpu(blackbox.pid), os.times(), time.monotonic()
        monitoring.start()
        print("checking", file=sys.stderr, flush=True)
        time.sleep(seconds / 3)
        failed_at = {}
        for n in range(FAILING):
            name = f"t{n * (count // FAILING)}"
            breaker.get(urls[name].replace("/t/", "/fail/"))
            failed_at[name] = time.monotonic()
        print("failing some targets", file=sys.stderr, flush=True)
        time.sleep(seconds - seconds / 3)
        own_after, wall = os.times(), time.monotonic() - wall_before
        bb_used = proc_cpu(blackbox.pid) - bb_before
        records = {r.service: r for r in monitoring.checks()}
        print("measured; stopping", file=sys.stderr, flush=True)
    finally:
        for process in (driver, blackbox, targets):
            process.kill()
            process.wait(timeout=10)

        # The checker and loop run on daemon threads: a slow stop must not hold the results.
        def stop() -> None:
            monitoring.stop()
            http.stop()
            courier.stop(drain=0)

        threading.Thread(target=stop, daemon=True).start()
    own_used = (own_after.user - own_before.user) + (own_after.system - own_before.system)
    checks = count * wall / INTERVAL
    posted = recorder.posted
    latencies = sorted(posted[n] - at for n, at in failed_at.items() if n in posted)
    return {
        "targets": count, "seconds": round(wall, 1), "interval": INTERVAL,
        "opsloop_cpu_percent_of_one_core": round(own_used / wall * 100, 1),
        "blackbox_cpu_percent_of_one_core": round(bb_used / wall * 100, 1),
        "opsloop_cpu_ms_per_check": round(own_used / checks * 1000, 3),
        "blackbox_cpu_ms_per_probe": round(bb_used / checks * 1000, 3),
        "fail_to_post_seconds": [round(x, 2) for x in latencies],
        "alerts_posted": f"{len(latencies)} of {FAILING}",
        "alerts_posted_for_healthy_targets": len(set(posted) - set(failed_at)),
        "checks_with_a_result": len(records),
        "failed_targets_seen_as": sorted(
            f"{records[n].state.value} after {records[n].failures}" if n in records else "never"
            for n in failed_at
        ),
        "fail_to_post_goal_seconds": INTERVAL * FAIL_AFTER + 2,
        "cpu_goal_percent": CPU_GOAL,
    }  # fmt: skip


PROFILE = """Where the CPU goes (py-spy, 100 samples a second, over one run of this bench each
on 2026-12-01, idle waits and the main thread's start left out). Before this client, with
httpx (a 45 s run): of the samples on the bench's working threads, 78% httpx's path (httpx,
httpcore's pool and connections, anyio, h11, and the checker around them), 9% the rest of
the event loop, 11% the store, 2% the check loop; that run took 37.8% of a core against
the exporter's 15.4%. With the transport of its own (a 60 s run;
integrations/http_check_transport.py: a GET over asyncio's transports, the connection kept
per address; at that time without httpx's client around it), of those samples: 34% the
check client with its
socket calls, 14% the rest of the event loop, 35% the store (the first result of each of
the 1,000 checks, written inside the measured window, and the failing ones' results), 9%
the check loop's scheduling and state machine; that run took 13.5% of a core (py-spy's
sampling included) against the exporter's 21.0%. Before either (61.7% of a core), 70% of
the samples were in httpcore's pool, with all 1,000 checks due in the same instant; the
first turns have been spread over the interval since. The checks now go through
httpx.AsyncClient again, over that transport: the runs above (13.8-15.0% of a core, the
machine also running the test suite) include the client's own cost; not profiled again."""


def write(runs: list[dict[str, object]], name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ordered = sorted(runs, key=lambda r: float(str(r["opsloop_cpu_percent_of_one_core"])))
    result = ordered[(len(ordered) - 1) // 2]
    summary = {"at": stamp, **result, "runs": runs}
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=2))
    lines = [
        "# Monitor checks: opsloop vs blackbox exporter"
        + (" (a new connection for every check)" if name.endswith("fresh") else ""), "",
        f"{stamp}, {result['targets']} loopback targets every {result['interval']:g} s, "
        f"{len(runs)} run(s) of {result['seconds']} s measured, opsloop and the exporter in "
        "the same run, on this shared 2-core machine. The run of median opsloop CPU:", "",
        "| | opsloop CheckLoop | blackbox exporter | goal |", "| --- | --- | --- | --- |",
        f"| CPU, % of one core | {result['opsloop_cpu_percent_of_one_core']} | "
        f"{result['blackbox_cpu_percent_of_one_core']} | opsloop ≤ {CPU_GOAL:g} |",
        f"| CPU per check/probe, ms | {result['opsloop_cpu_ms_per_check']} | "
        f"{result['blackbox_cpu_ms_per_probe']} | |",
        f"| fail → alert posted, s | {result['fail_to_post_seconds']} "
        f"({result['alerts_posted']}) | (needs Prometheus + Alertmanager; not measured) | "
        f"≤ {result['fail_to_post_goal_seconds']:g} |",
        f"| alerts for targets that never failed | "
        f"{result['alerts_posted_for_healthy_targets']} | | 0 |",
        "", "Every run (load average: the machine's 1-minute load when the run began; other "
        "engineers' tests share the two cores):", "",
        "| run | load average | opsloop CPU % | exporter CPU % | fail → posted, s |",
        "| --- | --- | --- | --- | --- |",
        *(f"| {n} | {r['load_average_at_start']} | {r['opsloop_cpu_percent_of_one_core']} | "
          f"{r['blackbox_cpu_percent_of_one_core']} | {r['fail_to_post_seconds']} "
          f"({r['alerts_posted']}) |" for n, r in enumerate(runs, 1)),
        "", "The blackbox exporter's figure is the exporter process only; the driver standing "
        "in for Prometheus is not counted. opsloop's is the whole bench process (checker, "
        "state machine, SQLite store, alert desk, outbox courier), without the targets; the "
        "checks start inside the measured window, so it includes storing each check's first "
        "result.", "", PROFILE,
    ]  # fmt: skip
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--drive":
        asyncio.run(drive(sys.argv[2], sys.argv[4:], float(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fresh-connections", action="store_true")
    args = parser.parse_args()
    if shutil.which(BLACKBOX) is None:
        sys.exit(f"{BLACKBOX} is missing: scripts/ensure-alertmanager installs it")
    runs = []
    for _ in range(args.runs):
        load = Path("/proc/loadavg").read_text().split()[0]
        with tempfile.TemporaryDirectory() as folder:
            runs.append({"load_average_at_start": load,
                         **run(args.seconds, args.targets, Path(folder),
                               keep=not args.fresh_connections)})  # fmt: skip
        print(json.dumps(runs[-1], indent=2), flush=True)
    fresh = args.fresh_connections
    write(runs, "monitor_checks_fresh" if fresh else "monitor_checks")


if __name__ == "__main__":
    main()

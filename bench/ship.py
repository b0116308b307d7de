"""/ship to one environment with no approvals against the same steps sent by hand through
/build, /test, /release and /deploy, in one run; then the time from a failing check during
a watch to its rollback starting.

    .venv/bin/python -m bench.ship [--rounds 3]

Both sides run against the same bot (the local Slack workspace, SQLite, the local engine
and registry), on a fresh commit each round (a changed file before an 8 MB RUN step, so no
layer is reused), alternating which side goes first. Times come from the store, so neither
side waits on a message edit: by hand, from the first slash command to the deploy request's
finished_at, each next command sent as soon as the previous job or deploy is recorded
succeeded; /ship, from the slash command to its deploy step's finished_at (the watch that
follows is excluded, as the goal says). The rollback: a version whose health file goes
4 s after it starts, shipped with a 20 s watch and checks every 0.5 s; measured from the
failing check result reaching the watch (the watch step says how long before the rollback was
filed) to the rollback request starting (its started_at). Writes bench/results/ship.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import docker
from sqlalchemy import Engine, create_engine, text

from bot.app import build
from bot.config import parse_config
from bot.core.ship.model import Pipeline
from bot.settings import Settings
from bot.store.deploys import SqlDeployStore
from bot.store.pipelines import SqlPipelineStore
from bot.workspace import SignedClient, SlackWorkspace
from tests.scenarios.ship.support import free_port, make_service_repo, service_files
from tests.support.repos import commit

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
TOKEN = "xoxb-0000-bench-token"
REGISTRY = "127.0.0.1:5000"
WORK_STEP = "RUN head -c 8000000 /dev/urandom > /app/blob\n"
DEADLINE = 300.0
INTERVAL = 0.5


def main() -> int:
    """Run the rounds and the rollback, and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    suffix = uuid.uuid4().hex[:8]
    image = f"{REGISTRY}/opsloop-bench/ship-{suffix}"
    service = f"bench-{suffix}"
    with tempfile.TemporaryDirectory() as folder, SlackWorkspace(bot_token=TOKEN) as workspace:
        root = Path(folder)
        source = make_service_repo(root / "svc", Path("/bin/busybox"))
        config = parse_config(_config(service, source, image, free_port()), {})
        settings = Settings(
            bot_token=TOKEN, signing_secret=secrets.token_hex(16), api_url=workspace.api_url,
            database_url=f"sqlite:///{root / 'bench.db'}", state_dir=root / "state",
        )  # fmt: skip
        bot = build(settings, config)
        slack = SignedClient(bot.start().events_url, settings.signing_secret, workspace)
        workspace.connect_bot(slack)
        engine = create_engine(settings.database_url)
        bench = _Bench(service, source, slack, engine)
        by_hand: list[float] = []
        shipped: list[float] = []
        try:
            for number in range(args.rounds):
                sides: list[Callable[[int], None]] = [
                    lambda n: by_hand.append(bench.by_hand(n)),
                    lambda n: shipped.append(bench.ship(n)),
                ]
                for side in sides if number % 2 == 0 else list(reversed(sides)):
                    side(number)
                print(f"round {number + 1}: by hand {by_hand[-1]:.2f}s, /ship "
                      f"{shipped[-1]:.2f}s", flush=True)  # fmt: skip
            rollback = bench.rollback(args.rounds)
            print(f"rollback: {rollback}", flush=True)
        finally:
            bot.stop()
            slack.close()
            engine.dispose()
            _clean(service, image)
    _write(by_hand, shipped, rollback, args.rounds)
    return 0


def _files(note: str, break_after: int | None = None) -> dict[str, str | bytes]:
    files = service_files(note)
    files["Dockerfile"] = str(files["Dockerfile"]).replace(
        "COPY www /www\n", "COPY www /www\n" + WORK_STEP
    )
    files["app/NOTE"] = f"{note} {uuid.uuid4().hex}\n"
    if break_after is not None:
        files["app/BREAK_AFTER"] = f"{break_after}\n"
    return files


def _config(service: str, source: Path, image: str, port: int) -> str:
    return f"""
slack: {{ops_channel: C0OPS}}
services:
  {service}:
    repo: {source}
    image: {image}
    test: ["/bin/sh", "/app/test.sh"]
    port: 8080
    health: {{path: /health, interval: 0.5, timeout: 1, retries: 3}}
    checks: {{interval: 500ms, timeout: 400ms, fail_after: 2, resolve_after: 1}}
    watch_min_samples: 2
    deploy:
      staging: {{target: container, publish: "127.0.0.1:{port}"}}
environments:
  staging: {{pipeline_watch: 20s}}
"""


class _Bench:
    def __init__(self, service: str, source: Path, slack: SignedClient, engine: Engine) -> None:
        self.service, self.source, self.slack = service, source, slack
        self.engine = engine
        self.pipelines = SqlPipelineStore(engine)
        self.deploys = SqlDeployStore(engine)

    def _commit(self, label: str, break_after: int | None = None) -> str:
        return commit(self.source, _files(label, break_after), f"Bench {label}")

    def _job(self, kind: str, sha: str) -> datetime:
        query = text(
            "SELECT state, finished_at FROM jobs WHERE kind = :kind AND revision = :sha "
            "ORDER BY created_at DESC"
        )
        ends = time.monotonic() + DEADLINE
        while time.monotonic() < ends:
            with self.engine.connect() as connection:
                row = connection.execute(query, {"kind": kind, "sha": sha}).first()
            if row is not None and row.state in ("failed", "cancelled"):
                raise RuntimeError(f"{kind} of {sha[:12]} {row.state}")
            if row is not None and row.state == "succeeded":
                return _utc(row.finished_at)
            time.sleep(0.02)
        raise TimeoutError(f"{kind} of {sha[:12]}")

    def by_hand(self, number: int) -> float:
        """/build, /test, /release, /deploy, each sent once the one before is recorded."""
        sha = self._commit(f"hand {number}")
        version = f"1.{number}.0"
        started = datetime.now(UTC)
        self.slack.slash("/build", f"{self.service} {sha}")
        self._job("build", sha)
        self.slack.slash("/test", f"{self.service} {sha}")
        self._job("test", sha)
        self.slack.slash("/release", f"{self.service} {version} {sha}")
        self._job("release", sha)
        self.slack.slash("/deploy", f"{self.service} {version} staging")
        finished = self._deployed(version)
        return (finished - started).total_seconds()

    def _deployed(self, version: str) -> datetime:
        ends = time.monotonic() + DEADLINE
        while time.monotonic() < ends:
            for request in self.deploys.recent(None, 20):
                if request.version == version and request.finished_at is not None:
                    if request.state.value != "succeeded":
                        raise RuntimeError(f"deploy of {version}: {request.detail}")
                    return request.finished_at
            time.sleep(0.02)
        raise TimeoutError(f"deploy of {version}")

    def ship(self, number: int) -> float:
        """/ship to staging; until its deploy step ended (the watch excluded)."""
        sha = self._commit(f"ship {number}")
        version = f"2.{number}.0"
        started = datetime.now(UTC)
        self.slack.slash("/ship", f"{self.service} {version} {sha}")
        pipeline = self._pipeline(version, lambda p: p.state.finished)
        if pipeline.state.value != "succeeded":
            raise RuntimeError(f"pipeline #{pipeline.id} {pipeline.state.value}: {pipeline.detail}")
        deploy = next(s for s in pipeline.steps if s.kind.value == "deploy")
        assert deploy.finished_at is not None
        return (deploy.finished_at - started).total_seconds()

    def _pipeline(self, version: str, done: Callable[[Pipeline], bool]) -> Pipeline:
        ends = time.monotonic() + DEADLINE
        while time.monotonic() < ends:
            for pipeline in self.pipelines.recent(5):
                if pipeline.version == version and done(pipeline):
                    return pipeline
            time.sleep(0.05)
        raise TimeoutError(f"pipeline of {version}")

    def rollback(self, number: int) -> dict[str, float]:
        """A version breaking 4 s after it starts, shipped with the 20 s watch."""
        sha = self._commit(f"breaks {number}", break_after=4)
        version = f"3.{number}.0"
        self.slack.slash("/ship", f"{self.service} {version} {sha}")
        pipeline = self._pipeline(version, lambda p: p.state.finished)
        watch = next(s for s in pipeline.steps if s.kind.value == "watch")
        match = re.search(r"rollback #(\d+)", watch.link)
        if match is None:
            raise RuntimeError(f"no rollback: {pipeline.detail}")
        request = self.deploys.get(int(match.group(1)))
        assert request is not None and request.started_at is not None
        lag = re.search(r"filed ([0-9.]+)s after the failure was seen", watch.detail)
        filed_after = float(lag.group(1)) if lag else float("nan")
        seen_at = request.created_at.timestamp() - filed_after
        return {
            "failure_seen_to_rollback_filed_s": round(filed_after, 3),
            "failure_seen_to_rollback_running_s": round(
                request.started_at.timestamp() - seen_at, 3
            ),
            "rollback_state": 1.0 if request.state.value == "succeeded" else 0.0,
            "check_interval_s": INTERVAL,
        }


def _utc(value: datetime | str) -> datetime:
    # SQLite hands a raw query's datetimes back as text.
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _clean(service: str, image: str) -> None:
    client = docker.from_env()
    for container in client.containers.list(
        all=True, filters={"label": f"opsloop.service={service}"}
    ):
        container.remove(force=True)
    for found in client.images.list(name=image):
        for tag in found.tags:
            client.images.remove(tag, force=True)


def _write(
    by_hand: list[float], shipped: list[float], rollback: dict[str, float], rounds: int
) -> None:
    hand, ship = statistics.median(by_hand), statistics.median(shipped)
    overhead = (ship - hand) / hand * 100
    data = {
        "rounds": rounds, "machine": platform.platform(), "python": sys.version.split()[0],
        "by_hand_s": [round(v, 3) for v in by_hand], "ship_s": [round(v, 3) for v in shipped],
        "median_by_hand_s": round(hand, 3), "median_ship_s": round(ship, 3),
        "overhead_percent": round(overhead, 2), "goal_overhead_percent": 5, "rollback": rollback,
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ship.json").write_text(json.dumps(data, indent=2) + "\n")
    seen = rollback["failure_seen_to_rollback_running_s"]
    lines = [
        "# /ship against the same steps by hand",
        "",
        f"{rounds} rounds, one environment (a container), no approvals; watch excluded. "
        "Times from the store (command sent → deploy finished).",
        "",
        "| | median | each round |",
        "| --- | --- | --- |",
        f"| by hand (/build, /test, /release, /deploy) | {hand:.2f} s | "
        f"{', '.join(f'{v:.2f}' for v in by_hand)} |",
        f"| /ship | {ship:.2f} s | {', '.join(f'{v:.2f}' for v in shipped)} |",
        f"| overhead | {overhead:+.1f}% | goal ≤ +5% |",
        "",
        f"Failing check → rollback filed: {rollback['failure_seen_to_rollback_filed_s']:.3f} s; "
        f"→ rollback running: {seen:.3f} s (check interval {INTERVAL} s; goal: within one).",
    ]
    (RESULTS / "ship.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())

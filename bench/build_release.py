"""Build and release through opsloop against the same docker build and docker push run
directly, in one run.

    .venv/bin/python -m bench.build_release [--rounds 5]

Baseline: the docker CLI (/usr/local/bin/docker, DOCKER_BUILDKIT=0, so both sides use the
classic builder) building an already checked-out folder, and `docker tag` + `docker push`.
opsloop: `/build`, then `/test` (not timed), then `/release`, sent as signed slash commands
to the bot running against the local Slack workspace, timed from the command to the job's
message saying succeeded. Every build starts from a fresh commit (a changed file copied
before the RUN step), so neither side profits from the other's layer cache; the order of
the two sides alternates between rounds. Slack rate: chat.update calls per job message,
from the workspace's recorded calls. Writes bench/results/build_release.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import docker
import httpx

from bot.app import build
from bot.config import parse_config
from bot.core import naming
from bot.settings import Settings
from bot.workspace import SignedClient, SlackWorkspace
from tests.scenarios.build.service_repos import make_service_repo
from tests.support.repos import commit

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
DOCKER = "/usr/local/bin/docker"
TOKEN = "xoxb-0000-bench-token"
REGISTRY = os.environ.get("OPSLOOP_TEST_REGISTRY") or "127.0.0.1:5000"
# Work the build does after the changed file, the same on both sides: a fresh layer that
# differs on every build (64 MB: a small service's image), so every push uploads it.
WORK_STEP = "RUN head -c 64000000 /dev/urandom > /app/blob && md5sum /app/blob > /app/digest"
DEADLINE = 300.0


def main() -> int:
    """Run the rounds and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    suffix = uuid.uuid4().hex[:8]
    image = f"{REGISTRY}/opsloop-bench/svc-{suffix}"
    base_image = f"{REGISTRY}/opsloop-bench/base-{suffix}"
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    with tempfile.TemporaryDirectory() as folder, SlackWorkspace(bot_token=TOKEN) as workspace:
        root = Path(folder)
        source = make_service_repo(root / "svc", Path("/bin/busybox"), "Start", extra=WORK_STEP)
        config = parse_config(
            "slack: {ops_channel: C0OPS}\nservices:\n  svc:\n"
            f"    repo: {source}\n    image: {image}\n"
            '    test: ["/bin/sh", "/app/test.sh"]\n',
            {},
        )
        settings = Settings(
            bot_token=TOKEN, signing_secret=secrets.token_hex(16), api_url=workspace.api_url,
            database_url=f"sqlite:///{root / 'bench.db'}", state_dir=root / "state",
        )  # fmt: skip
        bot = build(settings, config)
        slack = SignedClient(bot.start().events_url, settings.signing_secret, workspace)
        workspace.connect_bot(slack)
        timings: dict[str, list[float]] = defaultdict(list)
        run = Run(source, root, base_image, env, slack, workspace, timings)
        try:
            for number in range(args.rounds):
                sides: list[Callable[[int], None]] = [run.direct, run.through_bot]
                for side in sides if number % 2 == 0 else reversed(sides):
                    side(number)
                shown = ", ".join(f"{k} {v[-1]:.2f}s" for k, v in sorted(timings.items()))
                print(f"round {number + 1}: {shown}", flush=True)
            rates = _update_rates(workspace)
        finally:
            bot.stop()
            slack.close()
            _clean(image, base_image)
    _write(timings, rates, args.rounds)
    return 0


def _fresh_commit(source: Path, label: str) -> str:
    return commit(source, {"app/NOTE": f"{label} {uuid.uuid4().hex}\n"}, f"Bench {label}")


@dataclass
class Run:
    """The two sides of one benchmark run and the timings they record."""

    source: Path
    root: Path
    image: str
    env: dict[str, str]
    slack: SignedClient
    workspace: SlackWorkspace
    timings: dict[str, list[float]]

    def direct(self, number: int) -> None:
        """docker build of a checked-out fresh commit; docker tag and push of the image."""
        sha = _fresh_commit(self.source, f"direct {number}")
        folder = self.root / f"direct-{number}"
        folder.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(self.source), "archive", "--format=tar", sha],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        tag = f"{self.image}:{sha[:12]}"
        # The same five labels the bot puts on its images (each is a build step).
        labels = {
            naming.OCI_REVISION: sha,
            naming.OCI_SOURCE: str(self.source),
            naming.OCI_CREATED: datetime.now(UTC).isoformat(timespec="seconds"),
            naming.LABEL_BUILD_ID: f"direct-{number}",
            naming.LABEL_SERVICE: "svc",
        }
        flags = [part for k, v in labels.items() for part in ("--label", f"{k}={v}")]
        started = time.perf_counter()
        _docker(self.env, "build", "-q", "-t", tag, *flags, str(folder))
        self.timings["build direct"].append(time.perf_counter() - started)
        version = f"{self.image}:1.{number}.0"
        started = time.perf_counter()
        _docker(self.env, "tag", tag, version)
        _docker(self.env, "push", "-q", version)
        self.timings["release direct"].append(time.perf_counter() - started)

    def through_bot(self, number: int) -> None:
        """/build, /test (not timed) and /release of a fresh commit through the bot."""
        sha = _fresh_commit(self.source, f"bot {number}")
        for title, text, timed in (
            ("Build svc", "/build svc", "build bot"),
            ("Test svc", "/test svc", ""),
            (f"Release svc 1.{number}.0", f"/release svc 1.{number}.0", "release bot"),
        ):
            command, _, rest = text.partition(" ")
            started = time.perf_counter()
            self.slack.slash(command, rest)
            self._wait(f"{title} @ {sha[:12]}")
            if timed:
                self.timings[timed].append(time.perf_counter() - started)

    def _wait(self, title: str) -> None:
        def done() -> bool:
            return any(
                m.text.startswith(title) and ": succeeded" in m.text
                for m in self.workspace.messages("C0DEV")
            )

        self.workspace.wait_for(done, timeout=DEADLINE, description=f"{title} succeeded")


def _update_rates(workspace: SlackWorkspace) -> dict[str, float]:
    by_message: dict[tuple[str, str], list[float]] = defaultdict(list)
    for call in workspace.calls_to("chat.update"):
        by_message[(str(call.params.get("channel")), str(call.params.get("ts")))].append(
            call.timestamp
        )
    most_in_a_second = 0
    shortest_gap = float("inf")
    for stamps in by_message.values():
        stamps.sort()
        for index, stamp in enumerate(stamps):
            within = sum(1 for other in stamps[index:] if other - stamp < 1.0)
            most_in_a_second = max(most_in_a_second, within)
            if index:
                shortest_gap = min(shortest_gap, stamp - stamps[index - 1])
    return {
        "messages": len(by_message),
        "updates": sum(len(s) for s in by_message.values()),
        "max_updates_in_any_1s_per_message": most_in_a_second,
        "shortest_gap_between_updates_s": round(shortest_gap, 3),
    }


def _docker(env: dict[str, str], *args: str) -> None:
    subprocess.run([DOCKER, *args], env=env, check=True, capture_output=True)


def _clean(*repositories: str) -> None:
    client = docker.from_env()
    for image in client.images.list():
        for tag in image.tags:
            repository, _, version = tag.rpartition(":")
            if repository in repositories:
                client.images.remove(tag, force=True)
                host, path = repository.split("/", 1)
                base = f"http://{host}/v2/{path}/manifests"
                accept = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
                answer = httpx.head(f"{base}/{version}", headers=accept, trust_env=False)
                if digest := answer.headers.get("Docker-Content-Digest"):
                    httpx.delete(f"{base}/{digest}", trust_env=False)
    client.close()


def _write(timings: dict[str, list[float]], rates: dict[str, float], rounds: int) -> None:
    rows = {}
    for stage in ("build", "release"):
        direct = statistics.median(timings[f"{stage} direct"])
        bot = statistics.median(timings[f"{stage} bot"])
        rows[stage] = {
            "direct_median_s": round(direct, 3),
            "opsloop_median_s": round(bot, 3),
            "overhead_pct": round((bot - direct) / direct * 100, 1),
            "direct_s": [round(t, 3) for t in timings[f"{stage} direct"]],
            "opsloop_s": [round(t, 3) for t in timings[f"{stage} bot"]],
        }
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "rounds": rounds,
        "baseline": f"{DOCKER} (DOCKER_BUILDKIT=0) build / tag + push",
        "stages": rows,
        "slack_chat_update": rates,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "build_release.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Build and release: opsloop against docker build / docker push run directly",
        "",
        f"{result['at']}, {result['machine']}, {rounds} rounds, medians. Baseline: "
        f"{result['baseline']}. opsloop: slash command to the job message saying succeeded "
        "(git fetch and export, engine calls, Slack messages included). Goal: overhead 10% "
        "or less.",
        "",
        "| stage | direct (s) | opsloop (s) | overhead |",
        "| --- | ---: | ---: | ---: |",
    ]
    for stage, row in rows.items():
        lines.append(
            f"| {stage} | {row['direct_median_s']:.2f} | {row['opsloop_median_s']:.2f} | "
            f"{row['overhead_pct']:+.1f}% |"
        )
    lines += [
        "",
        f"Slack: {rates['updates']} chat.update calls on {rates['messages']} job messages; at "
        f"most {rates['max_updates_in_any_1s_per_message']} update(s) to one message within "
        f"any second; shortest gap between two updates of one message "
        f"{rates['shortest_gap_between_updates_s']}s (goal: at most one a second).",
        "",
    ]
    (RESULTS / "build_release.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())

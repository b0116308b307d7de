"""/services and /status for 150 deployed services through the bot against `docker ps` and
`docker service ls` run directly, in one run.

150 services are deployed under the names and labels the Deploy stage gives them: 100 as
busybox httpd containers publishing their port on loopback, 50 as Swarm services of one task
each. The bot's time runs from sending a signed slash command until its first page lands
in the local workspace (the engine listed once: one container listing and one service
listing with its task counts; the store read once; the page posted through the
response_url). /services then edits its health checks in (100 HTTP checks, 16 at a time):
that time is measured too, to the edit. The baselines are `docker ps --all --filter
label=opsloop.service` and `docker service ls --filter label=opsloop.service` run to
completion; the bot's one view shows what both show, so their sum is the CLI's time for
the same view. Rounds alternate the four.

Goals (issue 17): each first page within 1.5x the CLI's time, and within Slack's 3 s.

    python -m bench.large_estate [--rounds 9] [--containers 100] [--swarm 50]
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import docker
from docker.types import RestartPolicy, ServiceMode

from bot.app import build
from bot.config import parse_config
from bot.core.naming import (
    LABEL_ENV,
    LABEL_NAMESPACE,
    LABEL_SERVICE,
    LABEL_VERSION,
    deployment_name,
)
from bot.settings import Settings
from bot.workspace import SignedClient, SlackWorkspace
from tests.support.images import HTTPD_DOCKERFILE_TAIL, build_image, write_busybox_context

RESULTS = Path(__file__).resolve().parent / "results"
NAMESPACE = "bench"
TOKEN = "xoxb-bench"
RATIO_GOAL = 1.5
DEADLINE_GOAL = 3.0
PENDING = ":hourglass_flowing_sand:"
WHAT = {
    "services": "/services first page",
    "services_full": "/services with health edited in",
    "status": "/status first page",
    "docker_ps": "`docker ps --all --filter label=opsloop.service`",
    "service_ls": "`docker service ls --filter label=opsloop.service`",
}


def main() -> None:
    """Run the comparison and write bench/results/large_estate.{md,json}."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--swarm", type=int, default=50)
    args = parser.parse_args()
    client = docker.from_env()
    work = Path(tempfile.mkdtemp(prefix="bench-estate-"))
    prefix = f"b{uuid.uuid4().hex[:5]}"
    names = [f"{prefix}-{n:03d}" for n in range(args.containers + args.swarm)]
    context = write_busybox_context(
        work / "image", Path("/bin/busybox"), {"www/health": "ok"}, HTTPD_DOCKERFILE_TAIL
    )
    image = build_image(client, context, f"opsloop-bench/{prefix}:1.0.0", {})
    containers, services = [], []
    try:
        started = time.perf_counter()
        for name in names[: args.containers]:
            containers.append(
                client.containers.run(
                    image.id,
                    name=deployment_name(NAMESPACE, name, "prod"),
                    labels=_labels(name),
                    ports={"8080/tcp": ("127.0.0.1", None)},
                    detach=True,
                )
            )
        for name in names[args.containers :]:
            services.append(
                client.services.create(
                    f"opsloop-bench/{prefix}:1.0.0",
                    name=deployment_name(NAMESPACE, name, "prod"),
                    labels=_labels(name),
                    container_labels=_labels(name),
                    mode=ServiceMode("replicated", 1),
                    restart_policy=RestartPolicy("any"),
                )
            )
        _wait_tasks(client, args.swarm)
        print(
            f"{len(containers)} containers and {len(services)} Swarm services up in "
            f"{time.perf_counter() - started:.0f} s"
        )
        times = _rounds(args, names, work)
    finally:
        for service in services:
            service.remove()
        for container in containers:
            container.remove(force=True)
        _wait_gone(client, prefix)
        client.images.remove(image.id, force=True)
    _write(args, times)


def _labels(name: str) -> dict[str, str]:
    return {LABEL_SERVICE: name, LABEL_ENV: "prod", LABEL_VERSION: "1.0.0",
            LABEL_NAMESPACE: NAMESPACE}  # fmt: skip


def _wait_tasks(client: docker.DockerClient, count: int) -> None:
    """Until every Swarm service of the bench runs its task."""
    until = time.monotonic() + 600
    while time.monotonic() < until:
        listed = client.api.services(filters={"label": LABEL_SERVICE}, status=True)
        running = sum(
            (s.get("ServiceStatus") or {}).get("RunningTasks", 0)
            for s in listed
            if s["Spec"]["Labels"].get(LABEL_NAMESPACE) == NAMESPACE
        )
        if running >= count:
            return
        time.sleep(1)  # waiting on Swarm's scheduler, outside anything measured
    raise RuntimeError("the bench's Swarm services did not all start")


def _wait_gone(client: docker.DockerClient, prefix: str) -> None:
    """Until the services' task containers are gone, so the image can be removed."""
    until = time.monotonic() + 120
    named = {"name": f"opsloop-{NAMESPACE}-{prefix}-"}
    while client.containers.list(all=True, filters=named) and time.monotonic() < until:
        time.sleep(1)


def _rounds(args: argparse.Namespace, names: list[str], work: Path) -> dict[str, list[float]]:
    config = parse_config(_config(names, args.containers), {})
    times: dict[str, list[float]] = {key: [] for key in WHAT}
    with SlackWorkspace(bot_token=TOKEN) as workspace:
        settings = Settings(
            bot_token=TOKEN,
            signing_secret=secrets.token_hex(16),
            api_url=workspace.api_url,
            database_url=f"sqlite:///{work / 'opsloop.db'}",
            state_dir=work / "state",
        )
        bot = build(settings, config)
        server = bot.start()
        slack = SignedClient(server.events_url, settings.signing_secret, workspace)
        workspace.connect_bot(slack)
        try:
            # Warm: the engine connection, the threads, the store.
            _first_page(workspace, slack, "/services", "*Services*")
            _first_page(workspace, slack, "/status", "*Status*")
            for _ in range(args.rounds):
                page, full = _first_page(workspace, slack, "/services", "*Services*")
                times["services"].append(page)
                times["services_full"].append(full)
                times["status"].append(_first_page(workspace, slack, "/status", "*Status*")[0])
                times["docker_ps"].append(_cli("docker", "ps", "--all"))
                times["service_ls"].append(_cli("docker", "service", "ls"))
        finally:
            bot.stop()
            slack.close()
    return times


def _first_page(
    workspace: SlackWorkspace, slack: SignedClient, command: str, title: str
) -> tuple[float, float]:
    """(seconds to the first page, seconds until nothing on it is pending)."""
    before = len(workspace.ephemerals("C0DEV", "U0ALICE"))
    started = time.perf_counter()
    slack.slash(command, "")

    def page(settled: bool) -> Callable[[], bool]:
        def landed() -> bool:
            for message in workspace.ephemerals("C0DEV", "U0ALICE")[before:]:
                shown = str(message.blocks)
                if title in shown and (not settled or PENDING not in shown):
                    return True
            return False

        return landed

    workspace.wait_for(page(settled=False), timeout=60)
    first = time.perf_counter() - started
    workspace.wait_for(page(settled=True), timeout=60)
    return first, time.perf_counter() - started


def _cli(*command: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [*command, "--filter", f"label={LABEL_SERVICE}"], check=True, capture_output=True
    )
    return time.perf_counter() - started


def _config(names: list[str], containers: int) -> str:
    lines = ["slack:", "  ops_channel: C0OPS", "services:"]
    for n, name in enumerate(names):
        target = "container" if n < containers else "swarm"
        lines += [
            f"  {name}:", "    repo: ./repo", f"    image: 127.0.0.1:5000/{name}",
            "    port: 8080", "    health: /health",
            # The bench measures the lists; the Monitor stage's checks would share the
            # machine with them (its own benchmark is bench/monitor_checks.py).
            "    checks: {enabled: false}",
            "    deploy:", f"      prod: {{target: {target}}}",
        ]  # fmt: skip
    lines += ["environments:", "  prod: {}", "docker:", f"  namespace: {NAMESPACE}"]
    return "\n".join(lines) + "\n"


def _write(args: argparse.Namespace, times: dict[str, list[float]]) -> None:
    median = {key: statistics.median(values) for key, values in times.items()}
    cli = median["docker_ps"] + median["service_ls"]
    ratios = {view: median[view] / cli for view in ("services", "status")}
    slowest = max(*times["services"], *times["status"])
    met = all(r <= RATIO_GOAL for r in ratios.values()) and slowest <= DEADLINE_GOAL
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "containers": args.containers,
        "swarm_services": args.swarm,
        "rounds": args.rounds,
        "seconds": times,
        "medians_s": median,
        "cli_sum_median_s": cli,
        "ratio_to_cli_sum": ratios,
        "ratio_to_docker_ps_alone": {v: median[v] / median["docker_ps"] for v in ratios},
        "goals": {"ratio": RATIO_GOAL, "deadline_s": DEADLINE_GOAL},
        "met": met,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "large_estate.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(
        f"| {WHAT[key]} | {median[key]:.3f} s | {max(times[key]):.3f} s |" for key in WHAT
    )
    (RESULTS / "large_estate.md").write_text(
        f"# /services and /status for {args.containers + args.swarm} deployed services vs "
        f"docker ps and docker service ls\n\n"
        f"{args.containers} containers and {args.swarm} Swarm services (one task each); "
        f"{args.rounds} alternating rounds, medians, on this machine ({result['when']}).\n\n"
        f"| what | median | slowest |\n| --- | --- | --- |\n{rows}\n\n"
        f"The bot's one view shows what both CLI commands show: their medians' sum, "
        f"{cli:.3f} s, is the baseline.\n\n"
        f"- /services first page: {ratios['services']:.2f}x the CLI (goal at most "
        f"{RATIO_GOAL}x)\n"
        f"- /status first page: {ratios['status']:.2f}x the CLI (goal at most {RATIO_GOAL}x)\n"
        f"- slowest first page {slowest:.2f} s (goal within {DEADLINE_GOAL:g} s)\n\n"
        f"Goals {'met' if met else 'NOT met'}.\n"
    )
    print((RESULTS / "large_estate.md").read_text())


if __name__ == "__main__":
    main()

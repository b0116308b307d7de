"""/services for 150 deployed services through the bot against `docker ps`, in one run.

150 busybox httpd containers run with the names and labels the Deploy stage gives them,
each publishing its port on loopback. The bot's time runs from sending a signed `/services`
until its first page lands in the local workspace (the engine listed once, 150 health checks
in flight 16 at a time, the page posted through the response_url); the baseline's is
`docker ps --filter label=opsloop.service` run to completion. Rounds alternate.
Goals: the first page within 1.5x the CLI's time, and within Slack's 3 seconds.

    python -m bench.large_estate [--rounds 7] [--services 150]
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
from datetime import UTC, datetime
from pathlib import Path

import docker

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


def main() -> None:
    """Run the comparison and write bench/results/large_estate.{md,json}."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--services", type=int, default=150)
    args = parser.parse_args()
    client = docker.from_env()
    work = Path(tempfile.mkdtemp(prefix="bench-estate-"))
    prefix = f"b{uuid.uuid4().hex[:5]}"
    names = [f"{prefix}-{n:03d}" for n in range(args.services)]
    context = write_busybox_context(
        work / "image", Path("/bin/busybox"), {"www/health": "ok"}, HTTPD_DOCKERFILE_TAIL
    )
    image = build_image(client, context, f"opsloop-bench/{prefix}:1.0.0", {})
    containers = []
    try:
        started = time.perf_counter()
        for name in names:
            containers.append(
                client.containers.run(
                    image.id,
                    name=deployment_name(NAMESPACE, name, "prod"),
                    labels={
                        LABEL_SERVICE: name,
                        LABEL_ENV: "prod",
                        LABEL_VERSION: "1.0.0",
                        LABEL_NAMESPACE: NAMESPACE,
                    },
                    ports={"8080/tcp": ("127.0.0.1", None)},
                    detach=True,
                )
            )
        print(f"{len(containers)} containers up in {time.perf_counter() - started:.0f} s")
        bot_times, cli_times = _rounds(args.rounds, names, work)
    finally:
        for container in containers:
            container.remove(force=True)
        client.images.remove(image.id, force=True)
    _write(args, bot_times, cli_times)


def _rounds(rounds: int, names: list[str], work: Path) -> tuple[list[float], list[float]]:
    config = parse_config(_config(names), {})
    bot_times: list[float] = []
    cli_times: list[float] = []
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
            _first_page(workspace, slack)  # warm: the engine connection, the threads
            for _ in range(rounds):
                bot_times.append(_first_page(workspace, slack))
                cli_times.append(_docker_ps())
        finally:
            bot.stop()
            slack.close()
    return bot_times, cli_times


def _first_page(workspace: SlackWorkspace, slack: SignedClient) -> float:
    before = len(workspace.ephemerals("C0DEV", "U0ALICE"))
    started = time.perf_counter()
    slack.slash("/services", "")

    def landed() -> bool:
        fresh = workspace.ephemerals("C0DEV", "U0ALICE")[before:]
        return any(e.blocks and "*Services*" in str(e.blocks) for e in fresh)

    workspace.wait_for(landed, timeout=60)
    return time.perf_counter() - started


def _docker_ps() -> float:
    started = time.perf_counter()
    subprocess.run(
        ["docker", "ps", "--all", "--filter", f"label={LABEL_SERVICE}"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _config(names: list[str]) -> str:
    lines = ["slack:", "  ops_channel: C0OPS", "services:"]
    for name in names:
        lines += [
            f"  {name}:",
            "    repo: ./repo",
            f"    image: 127.0.0.1:5000/{name}",
            "    port: 8080",
            "    health: /health",
            "    deploy:",
            "      prod: {target: container}",
        ]
    lines += ["environments:", "  prod: {}", "docker:", f"  namespace: {NAMESPACE}"]
    return "\n".join(lines) + "\n"


def _write(args: argparse.Namespace, bot_times: list[float], cli_times: list[float]) -> None:
    bot, cli = statistics.median(bot_times), statistics.median(cli_times)
    ratio = bot / cli
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "services": args.services,
        "rounds": args.rounds,
        "bot_first_page_s": bot_times,
        "docker_ps_s": cli_times,
        "bot_median_s": bot,
        "docker_ps_median_s": cli,
        "ratio": ratio,
        "goals": {"ratio": RATIO_GOAL, "deadline_s": DEADLINE_GOAL},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "large_estate.json").write_text(json.dumps(result, indent=2) + "\n")
    met = "met" if ratio <= RATIO_GOAL and max(bot_times) <= DEADLINE_GOAL else "NOT met"
    (RESULTS / "large_estate.md").write_text(
        f"# /services for {args.services} deployed services vs docker ps\n\n"
        f"{args.rounds} alternating rounds, medians, on this machine "
        f"({result['when']}).\n\n"
        "| what | median | slowest |\n| --- | --- | --- |\n"
        f"| `docker ps --all --filter label=opsloop.service` | {cli:.3f} s | "
        f"{max(cli_times):.3f} s |\n"
        f"| /services first page through the bot (engine listing + {args.services} health "
        f"checks + Slack) | {bot:.3f} s | {max(bot_times):.3f} s |\n\n"
        f"Ratio {ratio:.2f}x (goal at most {RATIO_GOAL}x), slowest first page "
        f"{max(bot_times):.2f} s (goal within {DEADLINE_GOAL:g} s): {met}.\n"
    )
    print((RESULTS / "large_estate.md").read_text())


if __name__ == "__main__":
    main()

"""An approved deploy through the bot against `docker service update --image`, in one run.

Both roll the same Swarm service (created by the bot's first deploy, so the healthcheck,
the update policy and the published port are the same) between two busybox httpd images,
alternating. The bot's time runs from the approving reaction until the request message
says "succeeded"; the baseline's from starting `docker service update --image` until it
returns (it waits for the service to converge). Goal: bot median at most 15% slower.

    python -m bench.deploy [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
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
from bot.core.naming import OCI_REVISION, deployment_name
from bot.settings import Settings
from bot.workspace import SignedClient, SlackWorkspace
from tests.support.images import HTTPD_DOCKERFILE_TAIL, build_image, write_busybox_context
from tests.support.repos import make_repo

RESULTS = Path(__file__).resolve().parent / "results"
REGISTRY = "127.0.0.1:5000"
GOAL = 0.15
TOKEN = "xoxb-bench"


def main() -> None:
    """Run the comparison and write bench/results/deploy.{md,json}."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    client = docker.from_env()
    if client.info().get("Swarm", {}).get("LocalNodeState") != "active":
        client.swarm.init(advertise_addr="127.0.0.1")
    work = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    repo = make_repo(work / "src", {"README": "x\n"}, "OPS-1 bench")
    repository = f"{REGISTRY}/opsloop-bench-{uuid.uuid4().hex[:8]}"
    versions = ("1.0.0", "2.0.0")
    for version in versions:
        context = write_busybox_context(
            work / version, Path("/bin/busybox"), {"www/health": version}, HTTPD_DOCKERFILE_TAIL
        )
        build_image(client, context, f"{repository}:{version}", {OCI_REVISION: "0" * 40})
        client.images.push(repository, tag=version)
    service = f"bench{uuid.uuid4().hex[:6]}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = parse_config(
        f"""
slack: {{ops_channel: C0OPS}}
services:
  {service}:
    repo: {repo}
    image: {repository}
    port: 8080
    health: /health
    deploy: {{prod: {{target: swarm, publish: {port}}}}}
environments:
  prod: {{approvals: 1, approvers: [U0BOB]}}
""",
        {},
    )
    bot_times: list[float] = []
    base_times: list[float] = []
    with SlackWorkspace(bot_token=TOKEN) as workspace:
        settings = Settings(
            bot_token=TOKEN, signing_secret=secrets.token_hex(16), api_url=workspace.api_url,
            database_url=f"sqlite:///{work / 'bench.db'}", state_dir=work / "state",
        )  # fmt: skip
        bot = build(settings, config)
        server = bot.start()
        workspace.connect_bot(SignedClient(server.events_url, settings.signing_secret, workspace))
        try:
            _bot_deploy(workspace, service, versions[0], 1)  # creates the service
            count = 1
            for n in range(rounds):
                count += 1
                bot_times.append(_bot_deploy(workspace, service, versions[(n + 1) % 2], count))
                image = f"{repository}:{versions[n % 2]}"
                name = deployment_name(config.namespace, service, "prod")
                started = time.perf_counter()
                subprocess.run(
                    ["docker", "service", "update", "--quiet", "--image", image, name],
                    check=True, capture_output=True,
                )  # fmt: skip
                base_times.append(time.perf_counter() - started)
        finally:
            bot.stop()
            name = deployment_name(config.namespace, service, "prod")
            for found in client.services.list(filters={"name": name}):
                found.remove()
    _report(bot_times, base_times)


def _bot_deploy(workspace: SlackWorkspace, service: str, version: str, nth: int) -> float:
    workspace.user_command("U0ALICE", "C0DEV", "/deploy", f"{service} {version} prod")

    def request() -> list[object]:
        return [m for m in workspace.messages("C0DEV") if m.is_bot and "#" in m.text]

    workspace.wait_for(lambda: len(request()) >= nth, timeout=120)
    message = request()[nth - 1]
    ts = getattr(message, "ts")  # noqa: B009
    started = time.perf_counter()
    workspace.user_react("U0BOB", "C0DEV", ts, "white_check_mark")

    def done() -> bool:
        now = workspace.message("C0DEV", ts)
        return now is not None and (": succeeded" in now.text or ": failed" in now.text)

    workspace.wait_for(done, timeout=300)
    elapsed = time.perf_counter() - started
    final = workspace.message("C0DEV", ts)
    if final is None or ": succeeded" not in final.text:
        raise RuntimeError(f"the bot's deploy did not succeed: {final}")
    return elapsed


def _report(bot: list[float], base: list[float]) -> None:
    bot_median, base_median = statistics.median(bot), statistics.median(base)
    overhead = bot_median / base_median - 1
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": len(bot),
        "bot_seconds": [round(x, 3) for x in bot],
        "baseline_seconds": [round(x, 3) for x in base],
        "bot_median": round(bot_median, 3),
        "baseline_median": round(base_median, 3),
        "overhead": round(overhead, 4),
        "goal": GOAL,
        "met": overhead <= GOAL,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "deploy.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "deploy.md").write_text(
        "# Deploy: approved deploy through the bot vs `docker service update --image`\n\n"
        f"{len(bot)} rounds, alternating, same Swarm service (stop-first, healthcheck, "
        "monitor 5 s).\nBot: approving reaction → request message says succeeded. "
        "Baseline: `docker service update --image` until it returns.\n\n"
        "| | median (s) | runs (s) |\n| --- | --- | --- |\n"
        f"| bot | {bot_median:.2f} | {', '.join(f'{x:.2f}' for x in bot)} |\n"
        f"| docker service update | {base_median:.2f} | {', '.join(f'{x:.2f}' for x in base)} |\n"
        f"\nOverhead at the median: {overhead:+.1%} (goal ≤ {GOAL:.0%}: "
        f"{'met' if overhead <= GOAL else 'NOT met'}).\n"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

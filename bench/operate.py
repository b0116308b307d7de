"""Operate through the bot against the Docker CLI, in one run:

- `/status <service> <env>` of a 10-replica Swarm service (until its first answer lands in
  Slack) against `docker service ps <name>`;
- `/logs <service> <env> --tail 200` of that service (until the file is in its thread)
  against what a user runs when `docker service logs --tail 200 <name>` does not return
  (on this engine it never does for 10 tasks of 200 lines: some tasks' lines never come):
  `docker service ps -q` then `docker service logs --tail 200 <task>` for each task, one
  after the other and all at once. One service-wide call per run, cut at 20 s, records
  whether it returned and how many lines it gave;
- the autoscaler's reaction: from the first task of a CPU-burning service running (its CPU
  is over the target from its first second) until a second task runs, against two
  evaluation intervals plus what `docker service scale` 1 → 2 takes on its own.

Goals: medians at most 1.25x the CLI's; reaction at most 2 intervals + the engine's time.

    python -m bench.operate [--rounds 7] [--reactions 3]
"""

from __future__ import annotations

import argparse
import math
import os
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
from docker.types import Resources, ServiceMode

from bench.operate_baselines import SHORT_BASELINES, per_task, service_wide
from bench.operate_report import write_report
from bot.app import AUTOSCALE_SECONDS, build
from bot.config import parse_config
from bot.core.naming import LABEL_VERSION, deployment_name
from bot.settings import Settings
from bot.workspace import SignedClient, SlackWorkspace
from tests.support.images import build_image, write_busybox_context

RESULTS = Path(__file__).resolve().parent / "results"
REGISTRY = "127.0.0.1:5000"
GOAL = 1.25
CLI_TIMEOUT = 60.0
TOKEN = "xoxb-bench"
_CHATTY = (
    'CMD ["/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.05; done"]\n'
)
_BURN = 'CMD ["/bin/sh", "-c", "while true; do :; done"]\n'


def main() -> None:
    """Run the comparisons and write bench/results/operate.{md,json}."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reactions", type=int, default=3)
    args = parser.parse_args()
    client = docker.from_env()
    work = Path(tempfile.mkdtemp(prefix="bench-operate-"))
    repository = f"{REGISTRY}/opsloop-bench-operate-{uuid.uuid4().hex[:8]}"
    for tag, tail in (("chatty", _CHATTY), ("burn", _BURN)):
        context = write_busybox_context(work / tag, Path("/bin/busybox"), {}, tail)
        build_image(client, context, f"{repository}:{tag}")
        client.images.push(repository, tag=tag)
    service = f"bench{uuid.uuid4().hex[:6]}"
    config = parse_config(
        f"""
slack: {{ops_channel: C0OPS}}
services:
  {service}:
    repo: .
    image: {repository}
    deploy:
      prod: {{target: swarm, replicas: 10}}
      auto: {{target: swarm, autoscale: {{min: 1, max: 2, cpu: 50}}}}
environments: {{prod: {{}}, auto: {{}}}}
""",
        {},
    )
    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"python -m bench.operate --rounds {args.rounds} --reactions {args.reactions}",
        "load_before": round(os.getloadavg()[0], 2),
    }
    with SlackWorkspace(bot_token=TOKEN) as workspace:
        settings = Settings(
            bot_token=TOKEN, signing_secret=secrets.token_hex(16), api_url=workspace.api_url,
            database_url=f"sqlite:///{work / 'bench.db'}", state_dir=work / "state",
        )  # fmt: skip
        bot = build(settings, config)
        server = bot.start()
        workspace.connect_bot(SignedClient(server.events_url, settings.signing_secret, workspace))
        name = deployment_name(config.namespace, service, "prod")
        try:
            _service(client, name, f"{repository}:chatty", 10)
            _wait(lambda: _running(client, name) == 10, 120)
            _wait(lambda: _logged(client, name, 200), 60)
            results["status"] = _compare(
                args.rounds,
                lambda: _ask(
                    workspace,
                    "/status",
                    f"{service} prod",
                    lambda t: "10/10" in t,
                    settled=lambda t: "of limit" in t,
                ),
                lambda: _cli(["docker", "service", "ps", name]),
            )
            print("status:", results["status"], flush=True)
            results["service_logs_cli"] = service_wide(name)
            print("service-wide:", results["service_logs_cli"], flush=True)

            def bot_logs() -> float:
                every = "2000 line(s): uploaded as"
                return _ask(workspace, "/logs", f"{service} prod --tail 200",
                            lambda t: every in t, file_wanted=True)  # fmt: skip

            results["logs"] = _compare(args.rounds, bot_logs, lambda: per_task(name, False))
            results["logs_parallel"] = _compare(args.rounds, bot_logs, lambda: per_task(name, True))
            print("logs:", results["logs"], results["logs_parallel"], flush=True)
            results["autoscaler"] = _reactions(
                client, workspace, config.namespace, service, f"{repository}:burn", args=args
            )
        finally:
            bot.stop()
            for env in ("prod", "auto"):
                # The name filter matches prefixes: the CLI baseline's service goes too.
                for found in client.services.list(
                    filters={"name": deployment_name(config.namespace, service, env)}
                ):
                    found.remove()
    results["load_after"] = round(os.getloadavg()[0], 2)
    results["per_task_rounds_short"] = SHORT_BASELINES
    write_report(results, RESULTS)


def _service(client: docker.DockerClient, name: str, image: str, replicas: int,
             cpu: float | None = None) -> None:  # fmt: skip
    client.services.create(
        image, name=name, labels={LABEL_VERSION: "1.0.0"},
        mode=ServiceMode("replicated", replicas),
        resources=Resources(cpu_limit=int(cpu * 1e9)) if cpu else None,
    )  # fmt: skip


def _running(client: docker.DockerClient, name: str) -> int:
    service = client.services.get(name)
    tasks = service.tasks(filters={"desired-state": "running"})
    return len([t for t in tasks if t["Status"]["State"] == "running"])


def _logged(client: docker.DockerClient, name: str, lines: int) -> bool:
    # Each task's container, read through the container API: `docker service logs` of
    # tasks that just started sometimes never returns on this engine.
    service = client.services.get(name)
    tasks = service.tasks(filters={"desired-state": "running"})
    ids = [t["Status"].get("ContainerStatus", {}).get("ContainerID") for t in tasks]
    if len(ids) < 10 or not all(ids):
        return False
    return all(client.containers.get(i).logs(tail=lines).count(b"\n") >= lines for i in ids)


def _wait(check: Callable[[], bool], timeout: float) -> float:
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise RuntimeError("timed out")
        time.sleep(0.05)
    return time.perf_counter() - started


def _cli(argv: list[str]) -> float:
    started = time.perf_counter()
    try:
        subprocess.run(argv, check=True, capture_output=True, timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        # `docker service logs` on this engine sometimes never returns: counted as a miss.
        return math.inf
    return time.perf_counter() - started


def _ask(workspace: SlackWorkspace, command: str, text: str, done: Callable[[str], bool], *,
         file_wanted: bool = False,
         settled: Callable[[str], bool] | None = None) -> float:  # fmt: skip
    """Seconds from the command to an answer that is `done` (and the file, if wanted). With
    `settled`, then waits (untimed) until the answer is, so work the bot goes on with after
    its answer (the CPU and memory edit) does not overlap the next measurement."""
    before = len(workspace.ephemerals("C0DEV", "U0ALICE"))
    files = len(workspace.files())
    started = time.perf_counter()
    workspace.user_command("U0ALICE", "C0DEV", command, text)

    def shown() -> list[str]:
        said = workspace.ephemerals("C0DEV", "U0ALICE")[before:]
        return [e.text + str(e.blocks) for e in said]

    def answered() -> bool:
        if not any(done(t) for t in shown()):
            return False
        return not file_wanted or len(workspace.files()) > files

    workspace.wait_for(answered, timeout=60)
    took = time.perf_counter() - started
    if settled is not None:
        workspace.wait_for(lambda: any(settled(t) for t in shown()), timeout=60)
    return took


def _compare(rounds: int, bot: Callable[[], float], cli: Callable[[], float]) -> dict[str, object]:
    bot_times, cli_times = [], []
    for _ in range(rounds):
        bot_times.append(bot())
        cli_times.append(cli())
    misses = [x for x in cli_times if math.isinf(x)]
    if len(misses) * 2 >= len(cli_times):
        return {"bot_seconds": [round(x, 3) for x in bot_times],
                "cli_timeouts": len(misses), "met": None,
                "note": f"the CLI did not return within {CLI_TIMEOUT:.0f} s in "
                        f"{len(misses)} of {len(cli_times)} rounds"}  # fmt: skip
    ratio = statistics.median(bot_times) / statistics.median(cli_times)
    return {"bot_seconds": [round(x, 3) for x in bot_times],
            "cli_seconds": [round(x, 3) for x in cli_times],
            "bot_median": round(statistics.median(bot_times), 3),
            "cli_median": round(statistics.median(cli_times), 3),
            "ratio": round(ratio, 3), "goal": GOAL, "met": ratio <= GOAL}  # fmt: skip


def _reactions(client: docker.DockerClient, workspace: SlackWorkspace, namespace: str,
               service: str, image: str, *,
               args: argparse.Namespace) -> dict[str, object]:  # fmt: skip
    name = deployment_name(namespace, service, "auto")
    plain = f"{name}-cli"
    reactions, engine = [], []
    for _ in range(args.reactions):
        _service(client, name, image, 1, cpu=0.2)
        _wait(lambda: _running(client, name) >= 1, 120)
        said = len(_announced(workspace))
        reactions.append(_wait(lambda: _running(client, name) >= 2, 180))
        # The autoscaler waits for its new task to run, then announces the change: the
        # service stays until then (removed under it, the wait ran to its 120 s deadline
        # and held up the next round's evaluations).
        _wait(lambda said=said: len(_announced(workspace)) > said, 60)
        client.services.get(name).remove()
        _wait(
            lambda: (
                not client.containers.list(
                    filters={"label": f"com.docker.swarm.service.name={name}"}
                )
            ),
            60,
        )
        # The engine alone: the same service, under a name the bot does not autoscale,
        # scaled 1 -> 2 by the CLI.
        _service(client, plain, image, 1, cpu=0.2)
        _wait(lambda: _running(client, plain) >= 1, 120)
        started = time.perf_counter()
        subprocess.run(["docker", "service", "scale", "--detach", f"{plain}=2"], check=True,
                       capture_output=True)  # fmt: skip
        _wait(lambda: _running(client, plain) >= 2, 120)
        engine.append(time.perf_counter() - started)
        client.services.get(plain).remove()
        _wait(
            lambda: (
                not client.containers.list(
                    filters={"label": f"com.docker.swarm.service.name={plain}"}
                )
            ),
            60,
        )
    budget = 2 * AUTOSCALE_SECONDS + statistics.median(engine)
    worst = max(reactions)
    return {"reaction_seconds": [round(x, 2) for x in reactions],
            "engine_seconds": [round(x, 2) for x in engine],
            "interval": AUTOSCALE_SECONDS, "budget": round(budget, 2),
            "worst": round(worst, 2), "met": worst <= budget}  # fmt: skip


def _announced(workspace: SlackWorkspace) -> list[str]:
    return [m.text for m in workspace.messages("C0OPS") if "Autoscaler scaled" in m.text]


if __name__ == "__main__":
    main()

"""Requests failed and latency under steady load while opsloop deploys, for both targets, and
the Swarm deploy's duration against `docker service update --image`, in one run (issue 12).

The container target is first deployed on its own host port (publish_mode host, as before
proxies) and moved behind its proxy by the next deploy, under the load: the one gap that
move costs is reported apart. For each target a load loop (20 GETs a second on new
connections, tests/support/http_load) runs through the published port, first with nothing
happening (the quiet p99), then while opsloop's engine adapter (DockerDeployments.deploy,
what an approved /deploy runs) rolls the deployment between two busybox httpd versions,
alternating. For Swarm the same service is then updated with `docker service update
--image` directly, with the load still running, as the duration's baseline. Goals: no
failed request; p99 during deploys at most 2x the quiet p99; deploy duration at most 1.15x
the baseline's (medians).

    python -m bench.zero_downtime [--rounds 3] [--quiet-seconds 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import docker

from bot.core.clock import SystemClock
from bot.core.deploy.model import HealthTimings, Target
from bot.core.naming import deployment_name, network_name, proxy_name
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.deployments import DockerDeployments
from tests.scenarios.deploy.support import free_port
from tests.support.http_load import Hit, LoadLoop
from tests.support.images import HTTPD_DOCKERFILE_TAIL, build_image, write_busybox_context

RESULTS = Path(__file__).resolve().parent / "results"
REGISTRY = "127.0.0.1:5000"
NAMESPACE = "benchzd"
P99_GOAL = 2.0
DURATION_GOAL = 1.15
VERSIONS = ("1", "2")


@dataclass
class Phase:
    """What the load saw in one phase."""

    hits: list[Hit] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(1 for hit in self.hits if hit.error)

    @property
    def p99_ms(self) -> float:
        ok = sorted(hit.seconds for hit in self.hits if not hit.error)
        return 1000 * ok[min(len(ok) - 1, int(0.99 * len(ok)))] if ok else float("nan")


def main() -> None:
    """Run both targets and write bench/results/zero_downtime.{md,json}."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quiet-seconds", type=float, default=10.0)
    args = parser.parse_args()
    client = docker.from_env()
    if client.info().get("Swarm", {}).get("LocalNodeState") != "active":
        client.swarm.init(advertise_addr="127.0.0.1")
    work = Path(tempfile.mkdtemp(prefix="bench-zd-"))
    repository = f"{REGISTRY}/opsloop-bench-zd-{uuid.uuid4().hex[:8]}"
    for version in VERSIONS:
        context = write_busybox_context(
            work / version, Path("/bin/busybox"), {"www/health": version}, HTTPD_DOCKERFILE_TAIL
        )
        build_image(client, context, f"{repository}:{version}", {})
        client.images.push(repository, tag=version)
    engine = DockerDeployments(EngineConnection(None), SystemClock(), namespace=NAMESPACE)
    probe = HealthTimings(start_period=0.0, interval=0.5, timeout=1.0, retries=2)
    results = {}
    try:
        for kind, replicas in (("container", 1), ("swarm", 2)):
            target = Target(
                service=f"zd{kind[:2]}{uuid.uuid4().hex[:4]}", env="bench", image=repository,
                kind=kind, port=8080, health="/health", publish=free_port(), replicas=replicas,
                probe=probe, publish_host="127.0.0.1",
            )  # fmt: skip
            try:
                results[kind] = _measure(client, engine, target, args.rounds, args.quiet_seconds)
            finally:
                _remove(client, target)
    finally:
        engine.close()
        for version in VERSIONS:
            subprocess.run(["docker", "rmi", "-f", f"{repository}:{version}"],
                           check=False, capture_output=True)  # fmt: skip
    _report(results, args.rounds)


def _measure(
    client: docker.DockerClient, engine: DockerDeployments, target: Target, rounds: int,
    quiet_seconds: float,
) -> dict[str, object]:  # fmt: skip
    url = f"http://127.0.0.1:{target.publish}{target.health}"
    move: dict[str, object] | None = None
    if target.kind == "container":
        # First deployed on its own host port, as before proxies; the next deploy moves it.
        _deploy(engine, replace(target, publish_mode="host"), VERSIONS[1])
        with LoadLoop(url) as load:
            load.wait_for(20)
            _deploy(engine, target, VERSIONS[0])
            load.wait_for(20)
        move = {"requests": len(load.hits), "failed": len(load.failures),
                "silent_seconds": round(load.failed_for(), 3)}  # fmt: skip
    else:
        _deploy(engine, target, VERSIONS[0])
    with LoadLoop(url) as load:
        load.wait_for(int(quiet_seconds * 20))
    quiet = Phase(load.hits)
    deploy_times: list[float] = []
    with LoadLoop(url) as load:
        for n in range(rounds):
            deploy_times.append(_deploy(engine, target, VERSIONS[(n + 1) % 2]))
    during = Phase(load.hits)
    result: dict[str, object] = {
        "replicas": target.replicas,
        "quiet": {"requests": len(quiet.hits), "failed": quiet.failed,
                  "p99_ms": round(quiet.p99_ms, 2)},
        "during_deploys": {"requests": len(during.hits), "failed": during.failed,
                           "p99_ms": round(during.p99_ms, 2)},
        "p99_ratio": round(during.p99_ms / quiet.p99_ms, 2),
        "deploy_seconds": [round(x, 2) for x in deploy_times],
        "failures": sorted({hit.error for hit in during.hits if hit.error})[:5],
    }  # fmt: skip
    if move is not None:
        result["move_behind_proxy"] = move
    if target.kind == "swarm":
        name = deployment_name(NAMESPACE, target.service, target.env)
        base_times = []
        with LoadLoop(url) as load:
            for n in range(rounds):
                image = f"{target.image}:{VERSIONS[n % 2]}"
                started = time.perf_counter()
                subprocess.run(["docker", "service", "update", "--quiet", "--image", image, name],
                               check=True, capture_output=True)  # fmt: skip
                base_times.append(time.perf_counter() - started)
        baseline = Phase(load.hits)
        result["baseline_seconds"] = [round(x, 2) for x in base_times]
        result["baseline_failed"] = baseline.failed
        result["duration_ratio"] = round(
            statistics.median(deploy_times) / statistics.median(base_times), 3
        )
    return result


def _deploy(engine: DockerDeployments, target: Target, version: str) -> float:
    started = time.perf_counter()
    outcome = engine.deploy(target, f"{target.image}:{version}", version,
                            uuid.uuid4().hex[:8], lambda _said: None)  # fmt: skip
    if outcome.state.value != "succeeded":
        raise RuntimeError(f"deploy of {version} did not succeed: {outcome.detail}")
    return time.perf_counter() - started


def _remove(client: docker.DockerClient, target: Target) -> None:
    name = deployment_name(NAMESPACE, target.service, target.env)
    for service in client.services.list(filters={"name": name}):
        service.remove()
    for container in (name, proxy_name(NAMESPACE, target.service, target.env)):
        subprocess.run(["docker", "rm", "-f", container], check=False, capture_output=True)
    network = network_name(NAMESPACE, target.service, target.env)
    until = time.monotonic() + 30
    while time.monotonic() < until:
        removed = subprocess.run(
            ["docker", "network", "rm", network], check=False, capture_output=True
        )
        if removed.returncode == 0 or b"not found" in removed.stderr:
            return
        time.sleep(0.5)


def _report(results: dict[str, dict[str, object]], rounds: int) -> None:
    swarm = results["swarm"]
    met = {
        kind: result["during_deploys"]["failed"] == 0  # type: ignore[index]
        and float(result["p99_ratio"]) <= P99_GOAL  # type: ignore[arg-type]
        for kind, result in results.items()
    }
    duration_met = float(swarm["duration_ratio"]) <= DURATION_GOAL  # type: ignore[arg-type]
    document = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": rounds,
        "load": "20 GETs a second, a new connection each, through the published port",
        "targets": results,
        "goals": {"failed": 0, "p99_ratio": P99_GOAL, "duration_ratio": DURATION_GOAL},
        "met": {**met, "swarm_duration": duration_met},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "zero_downtime.json").write_text(json.dumps(document, indent=2) + "\n")
    rows = []
    for kind, r in results.items():
        quiet, during = r["quiet"], r["during_deploys"]
        rows.append(
            f"| {kind} ({r['replicas']} replica(s)) | {during['failed']} of "  # type: ignore[index]
            f"{during['requests']} | {quiet['p99_ms']} | {during['p99_ms']} | "  # type: ignore[index]
            f"{r['p99_ratio']}x | {'met' if met[kind] else 'NOT met'} |"
        )
    (RESULTS / "zero_downtime.md").write_text(
        "# Zero-downtime deploys: failed requests and p99 under load\n\n"
        f"{rounds} deploys per target, alternating two versions, through opsloop's engine "
        "adapter (what an approved /deploy runs); load: 20 GETs a second on new connections "
        "through the published port on loopback.\n\n"
        "| target | failed during deploys | quiet p99 (ms) | p99 during (ms) | ratio | goal |\n"
        "| --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n\n"
        "Swarm deploy duration (median): opsloop "
        f"{statistics.median(swarm['deploy_seconds']):.2f} s "  # type: ignore[arg-type]
        f"{swarm['deploy_seconds']} vs `docker service update --image` "
        f"{statistics.median(swarm['baseline_seconds']):.2f} s "  # type: ignore[arg-type]
        f"{swarm['baseline_seconds']} on the same service: {swarm['duration_ratio']}x "
        f"(goal ≤ {DURATION_GOAL}x: {'met' if duration_met else 'NOT met'}); the baseline's "
        f"updates failed {swarm['baseline_failed']} request(s) under the same load (no "
        "proxy following them).\n" + _move_line(results["container"])
    )
    print(json.dumps(document, indent=2))


def _move_line(container: dict[str, object]) -> str:
    move = container.get("move_behind_proxy")
    if not isinstance(move, dict):
        return ""
    return (
        "\nMoving the container from its own host port (publish_mode host) behind its proxy, "
        f"once, under the same load: {move['failed']} of {move['requests']} requests failed, "
        f"the port silent for {move['silent_seconds']} s (first failed request sent to last "
        "one answered).\n"
    )


if __name__ == "__main__":
    main()

"""Zero-downtime Swarm deploys behind the deployment's reverse proxy, on the real engine in
Swarm mode: a load loop on loopback (20 GETs a second through the published port) runs
during each operation and must see no failed request, and the old version until the switch
(issue 12)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import docker
import pytest
from docker.errors import NotFound

from bot.core.clock import SystemClock
from bot.core.deploy.model import DeployState, Target
from bot.core.errors import UsageError
from bot.core.naming import network_name, proxy_name
from bot.core.operate.model import Placement
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.deployments import DockerDeployments
from integrations.docker_engine.operate import DockerOperations
from integrations.docker_engine.proxy import ProxyDown
from integrations.docker_engine.proxy_follower import ProxyFollower
from tests.integrations.zero_downtime_support import (
    NS,
    caddy,
    deploy,
    engine,
    published_target,
    repository,
    upstreams,
    url,
)
from tests.scenarios.deploy.support import remove_deployments, swarm
from tests.support.http_load import LoadLoop

__all__ = ["caddy", "engine", "repository", "swarm"]
pytestmark = pytest.mark.docker


@pytest.fixture
def target(swarm: docker.DockerClient, repository: str) -> Iterator[Target]:
    made = published_target("swarm", "zd", repository)
    yield made
    remove_deployments(swarm, made.service)


def test_deploy_and_rollback_under_load_fail_no_request(
    swarm: docker.DockerClient, engine: DockerDeployments, target: Target
) -> None:
    assert deploy(engine, target, "1").startswith("succeeded")
    with LoadLoop(url(target)) as load:
        load.wait_for(10)
        assert deploy(engine, target, "2").startswith("succeeded")
        load.wait_for(10)
        assert deploy(engine, target, "1").startswith("succeeded")  # the rollback
        load.wait_for(10)
    assert load.failures == []
    assert load.served() == ["1", "2", "1"]
    # The tasks publish nothing: only the proxy holds the host port.
    service = swarm.services.get(f"opsloop-{NS}-{target.service}-prod")
    assert not (service.attrs["Spec"].get("EndpointSpec") or {}).get("Ports")


def test_a_candidate_that_never_answers_leaves_the_old_version_serving(
    engine: DockerDeployments, target: Target
) -> None:
    assert deploy(engine, target, "1").startswith("succeeded")
    with LoadLoop(url(target)) as load:
        load.wait_for(10)
        said = deploy(engine, target, "broken")
        load.wait_for(10)
    assert said.startswith("rolled_back"), said
    assert load.failures == []
    assert load.served() == ["1"]


def test_scale_one_three_one_and_restart_under_load_fail_no_request(
    swarm: docker.DockerClient, engine: DockerDeployments, target: Target
) -> None:
    assert deploy(engine, target, "1").startswith("succeeded")
    operations = DockerOperations(EngineConnection(None), SystemClock(), engine, namespace=NS)
    placement = Placement(target.service, "prod", "swarm", target.image, 1, 5, target=target)
    try:
        with LoadLoop(url(target)) as load:
            load.wait_for(10)
            scaled = operations.scale(placement, 3, lambda _said: None)
            three = upstreams(swarm, target)
            load.wait_for(10)
            down = operations.scale(placement, 1, lambda _said: None)
            one = upstreams(swarm, target)
            restarted = operations.restart(replace(placement, replicas=1), lambda _said: None)
            load.wait_for(10)
        status = operations.status(placement)  # what /status shows
    finally:
        operations.close()
    assert status.proxy is not None
    assert (status.proxy.state, status.proxy.address) == ("running", f"127.0.0.1:{target.publish}")
    assert (scaled.state, down.state, restarted.state) == (DeployState.SUCCEEDED,) * 3
    assert (len(set(three)), len(one)) == (3, 1)
    assert load.failures == []
    assert load.served() == ["1"]


def test_the_proxy_outlives_a_bot_restart_and_serves_the_next_deploy(
    swarm: docker.DockerClient, engine: DockerDeployments, target: Target
) -> None:
    assert deploy(engine, target, "1").startswith("succeeded")
    proxy = swarm.containers.get(proxy_name(NS, target.service, target.env))
    engine.close()  # the bot stops; the proxy does not depend on it
    with LoadLoop(url(target)) as load:
        load.wait_for(10)
        again = DockerDeployments(EngineConnection(None), SystemClock(), namespace=NS)
        try:
            assert again.settle(target).healthy
            assert deploy(again, target, "2").startswith("succeeded")
        finally:
            again.close()
        load.wait_for(10)
    assert load.failures == []
    assert load.served() == ["1", "2"]
    kept = swarm.containers.get(proxy_name(NS, target.service, target.env))
    assert (kept.id, kept.status) == (proxy.id, "running")


def test_a_host_port_taken_by_something_else_changes_nothing(
    swarm: docker.DockerClient, engine: DockerDeployments, target: Target
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", target.publish or 0))
        holder.listen()
        said = deploy(engine, target, "1")
    assert said.startswith("failed"), said
    assert f"127.0.0.1:{target.publish}" in said and "Nothing was changed" in said
    assert swarm.services.list(filters={"name": f"opsloop-{NS}-{target.service}"}) == []
    with pytest.raises(NotFound):
        swarm.containers.get(proxy_name(NS, target.service, target.env))
    # Swarm removes a network from the cluster at once, from this node's listing soon after.
    network = network_name(NS, target.service, target.env)
    until = time.monotonic() + 30
    while swarm.networks.list(names=[network]) and time.monotonic() < until:
        threading.Event().wait(0.25)
    assert swarm.networks.list(names=[network]) == []


def test_a_proxy_that_is_down_is_reported_not_replaced(
    swarm: docker.DockerClient, engine: DockerDeployments, target: Target
) -> None:
    assert deploy(engine, target, "1").startswith("succeeded")
    proxy = swarm.containers.get(proxy_name(NS, target.service, target.env))
    proxy.stop(timeout=1)
    with pytest.raises(ProxyDown, match="docker start"):
        engine.preflight(target)
    said = deploy(engine, target, "2")
    assert said.startswith("failed") and "docker start" in said, said
    assert engine.running(target).version == "1"
    proxy.reload()
    assert proxy.status == "exited"  # left for the operator, not replaced


def test_host_mode_ports_with_more_replicas_than_nodes_are_refused_before_approval(
    swarm: docker.DockerClient, engine: DockerDeployments, target: Target
) -> None:
    crowded = replace(target, publish_mode="host", publish_host=None, replicas=2)
    with pytest.raises(UsageError, match="publish_mode: proxy") as refused:
        engine.preflight(crowded)
    assert "1 ready node" in refused.value.message
    engine.preflight(replace(crowded, replicas=1))  # one replica a node fits
    autoscaled = replace(crowded, replicas=1, autoscale_max=3)
    with pytest.raises(UsageError, match="autoscale up to 3") as refused:
        engine.preflight(autoscaled)
    assert "`autoscale.max` of at most 1" in refused.value.message
    assert swarm.services.list(filters={"name": f"opsloop-{NS}-{target.service}"}) == []


def test_the_proxy_follows_a_task_swarm_replaced_on_its_own(
    swarm: docker.DockerClient, engine: DockerDeployments, target: Target
) -> None:
    two = replace(target, replicas=2)
    assert deploy(engine, two, "1").startswith("succeeded")
    before = upstreams(swarm, two)
    follower = ProxyFollower(EngineConnection(None), NS, lambda: [two])
    service = swarm.services.get(f"opsloop-{NS}-{two.service}-prod")
    task = next(t for t in service.tasks() if t["Status"]["State"] == "running")
    with LoadLoop(url(two)) as load:
        load.wait_for(10)
        # The task's container dies outside any deploy; Swarm starts a replacement.
        swarm.containers.get(task["Status"]["ContainerStatus"]["ContainerID"]).kill()
        until = time.monotonic() + 60
        followed: list[str] = []
        while time.monotonic() < until:
            followed += follower.follow_all()
            now = upstreams(swarm, two)
            if len(now) == 2 and now != before:
                break
            threading.Event().wait(0.5)
        load.wait_for(20)
    assert set(followed) == {f"{two.service}/prod"}
    after = upstreams(swarm, two)
    assert len(after) == 2 and len(set(after) & set(before)) == 1, (before, after)
    # A request in flight on the killed task (or dialled to it before Caddy left it out)
    # can fail; the rest, and everything after the replacement joined, succeed.
    assert len(load.failures) <= 2, load.failures
    assert all(not hit.error for hit in load.hits[-20:])
    assert load.served() == ["1"]
    assert follower.follow_all() == []  # nothing more to follow: the proxy is right

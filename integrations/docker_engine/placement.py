"""Configurations that cannot run on the engine, refused before anyone is asked to approve
a deploy: host-mode ports on more Swarm replicas than nodes, and a deployment taken out
from behind its reverse proxy."""

from __future__ import annotations

import docker

from bot.core.deploy.model import Target
from bot.core.errors import UsageError
from integrations.docker_engine.ownership import ForeignDeployment
from integrations.docker_engine.proxy import DeploymentProxy


def refuse_unplaceable(
    client: docker.DockerClient, target: Target, replicas: int | None = None
) -> None:
    """UsageError, with the reason and the fix, for host-mode ports with more replicas
    (`replicas`, by default the target's own and the most its autoscaler may set) than the
    Swarm has ready, active nodes: each task binds the host port, a node holds it once, so
    the extra tasks would stay pending and the stop-first update would take the running
    ones down."""
    if target.kind != "swarm" or target.publish is None or target.publish_mode != "host":
        return
    autoscaled = replicas is None and (target.autoscale_max or 0) > target.replicas
    wanted = replicas if replicas is not None else max(target.replicas, target.autoscale_max or 0)
    nodes = [
        node
        for node in client.nodes.list()
        if (node.attrs.get("Status") or {}).get("State") == "ready"
        and (node.attrs.get("Spec") or {}).get("Availability") == "active"
    ]
    if wanted <= len(nodes):
        return
    how_many = f"autoscale up to {wanted}" if autoscaled else f"{wanted}"
    fewer = "an `autoscale.max` of at most" if autoscaled else "at most"
    raise UsageError(
        f"`{target.service}` in `{target.env}` publishes port {target.publish} in host mode "
        f"with {how_many} replicas, but this Swarm has {len(nodes)} ready node(s): "
        "each task binds the port on its node, so the extra replicas could never start. "
        f"Use `publish_mode: proxy` (the default) in opsloop.yml, or {fewer} "
        f"{len(nodes)} replica(s). Nothing was changed."
    )


def refuse_leaving_proxy(client: docker.DockerClient, namespace: str, target: Target) -> None:
    """UsageError, with the reason and the fix, when the deployment runs behind its reverse
    proxy and opsloop.yml no longer puts it there (`publish_mode` `host` or `ingress`, or
    no `publish`): the proxy keeps holding the host port, so the deploy could not publish
    it and would roll back. Nothing is changed."""
    if target.proxied:
        return
    proxy = DeploymentProxy(client, namespace, target)
    try:
        if proxy.container() is None:
            return
    except ForeignDeployment:
        return  # another installation's container: not this deployment's proxy
    now = f"`publish_mode: {target.publish_mode}`" if target.publish is not None else "no `publish`"
    raise UsageError(
        f"`{target.service}` in `{target.env}` runs behind its proxy `{proxy.name}`, which "
        f"holds its port, but opsloop.yml now gives it {now}. opsloop does not take a "
        "deployment out from behind its proxy (the deploy would find the port taken and "
        "roll back). Keep `publish_mode: proxy`, or remove the proxy first with "
        f"`docker rm -f {proxy.name}` (the port then answers nothing until the next deploy "
        "is done). Nothing was changed."
    )

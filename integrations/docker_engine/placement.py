"""Swarm configurations that cannot run on the engine's nodes, refused before anyone is
asked to approve a deploy."""

from __future__ import annotations

import docker

from bot.core.deploy.model import Target
from bot.core.errors import UsageError


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

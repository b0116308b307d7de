"""Swarm configurations that cannot run on the engine's nodes, refused before anyone is
asked to approve a deploy."""

from __future__ import annotations

import docker

from bot.core.deploy.model import Target
from bot.core.errors import UsageError


def refuse_unplaceable(client: docker.DockerClient, target: Target) -> None:
    """UsageError, with the reason and the fix, for host-mode ports with more replicas
    than the Swarm has ready, active nodes: each task binds the host port, a node holds it
    once, so the extra tasks would stay pending and the stop-first update would take the
    running ones down."""
    if target.kind != "swarm" or target.publish is None or target.publish_mode != "host":
        return
    nodes = [
        node
        for node in client.nodes.list()
        if (node.attrs.get("Status") or {}).get("State") == "ready"
        and (node.attrs.get("Spec") or {}).get("Availability") == "active"
    ]
    if target.replicas <= len(nodes):
        return
    raise UsageError(
        f"`{target.service}` in `{target.env}` publishes port {target.publish} in host mode "
        f"with {target.replicas} replicas, but this Swarm has {len(nodes)} ready node(s): "
        "each task binds the port on its node, so the extra replicas could never start. "
        f"Use `publish_mode: proxy` (the default) in opsloop.yml, or at most {len(nodes)} "
        "replica(s)."
    )

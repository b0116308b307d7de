"""How many replicas a deploy to a running Swarm service asks for.

opsloop.yml's `replicas` is what a new service starts with. After that, /scale and the
autoscaler own the count: a deploy keeps what the service runs, so a rollout never undoes a
scale-out in the middle of a spike. The configured number applies again only when it was
changed in opsloop.yml while nobody had scaled the service: each deploy records the
configured number it went out with (LABEL_REPLICAS), and a service still running exactly
that many was not scaled since.
"""

from __future__ import annotations

LABEL_REPLICAS = "opsloop.replicas"
"""The Swarm service label holding the configured replica count of its last deploy."""


def replicas_for_deploy(configured: int, running: int | None, deployed_with: str | None) -> int:
    """The replica count of a deploy, given opsloop.yml's `configured` number, the count the
    service is set to now (`running`, None for a new service), and the LABEL_REPLICAS value
    of its last deploy (None when it has none: made or changed outside opsloop's deploys)."""
    if running is None or running < 1:
        return configured
    try:
        before = int(deployed_with) if deployed_with is not None else None
    except ValueError:
        before = None
    if before is not None and before == running:
        return configured
    return running

"""Which containers and Swarm services on a shared engine are this installation's.

A deployment is this installation's when it carries its namespace label, or when it was made
before namespaces (named opsloop-<service>-<env>, opsloop.service and opsloop.env labels that
match, no namespace label): such a legacy deployment is taken over (README, "A shared
engine"). Anything carrying another installation's namespace is refused with
ForeignDeployment, never changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import docker
from docker.errors import APIError, NotFound

from bot.core.errors import Conflict
from bot.core.naming import (
    LABEL_ENV,
    LABEL_NAMESPACE,
    LABEL_SERVICE,
    deployment_name,
    foreign_namespace,
    legacy_deployment_name,
    not_ours,
)


class ForeignDeployment(Conflict):
    """The deployment's name is taken by another opsloop installation's container or
    service; `namespace` is that installation's."""

    def __init__(self, name: str, namespace: str, ours: str) -> None:
        super().__init__(not_ours(name, namespace, ours))
        self.name = name
        self.namespace = namespace


def refuse_foreign(name: str, labels: Mapping[str, str] | None, namespace: str) -> None:
    """ForeignDeployment when `labels` carry another installation's namespace."""
    other = foreign_namespace(labels, namespace)
    if other is not None:
        raise ForeignDeployment(name, other, namespace)


def is_legacy_of(labels: Mapping[str, str] | None, service: str, env: str) -> bool:
    """Whether these are the labels of `service` in `env` deployed before namespaces."""
    found = labels or {}
    return (
        LABEL_NAMESPACE not in found
        and found.get(LABEL_SERVICE) == service
        and found.get(LABEL_ENV) == env
    )


def container_of(client: docker.DockerClient, namespace: str, service: str, env: str) -> Any | None:
    """The container running `service` in `env` for this installation (its own, or a legacy
    one it takes over), None when there is none; ForeignDeployment when the name is taken by
    another installation."""
    name = deployment_name(namespace, service, env)
    try:
        container = client.containers.get(name)
    except NotFound:
        pass
    else:
        refuse_foreign(name, container.labels, namespace)
        return container
    try:
        legacy = client.containers.get(legacy_deployment_name(service, env))
    except NotFound:
        return None
    return legacy if is_legacy_of(legacy.labels, service, env) else None


def swarm_service_of(
    client: docker.DockerClient, namespace: str, service: str, env: str
) -> Any | None:
    """The Swarm service running `service` in `env` for this installation (its own, or a
    legacy one it takes over), None when there is none; ForeignDeployment as above. APIError
    503 when the engine is not a Swarm manager."""
    name = deployment_name(namespace, service, env)
    found = service_named(client, name)
    if found is not None:
        refuse_foreign(name, labels_of_service(found), namespace)
        return found
    legacy = service_named(client, legacy_deployment_name(service, env))
    if legacy is not None and is_legacy_of(labels_of_service(legacy), service, env):
        return legacy
    return None


def service_named(client: docker.DockerClient, name: str) -> Any | None:
    """The Swarm service named exactly `name` (the engine's filter matches prefixes)."""
    for service in client.services.list(filters={"name": name}):
        if service.name == name:
            return service
    return None


def labels_of_service(service: Any) -> Mapping[str, str]:
    """A Swarm service's own labels."""
    return dict((service.attrs.get("Spec") or {}).get("Labels") or {})


def is_not_swarm_manager(error: Exception) -> bool:
    """Whether the engine answered that it is not a Swarm manager."""
    return isinstance(error, APIError) and error.status_code == 503

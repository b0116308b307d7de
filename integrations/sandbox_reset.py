"""Removes what one sandbox state made on the Docker engine and in the registry.

A sandbox state pushes its images to repositories of its own (``127.0.0.1:5000/<its
namespace>/web``), so what it made is exactly what runs or is stored under those
repositories: Swarm services and containers started from them, local tags of them, and
their manifests in the registry. Nothing else on the engine or in the registry is touched.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Sequence

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container

from bot.core.errors import RegistryUnavailable
from bot.core.naming import LABEL_NAMESPACE, LABEL_ROLE, ROLE_NETWORK, ROLE_PROXY
from integrations.registry import Registry, split_image

SWARM_TASK_LABEL = "com.docker.swarm.service.id"
NETWORK_SECONDS = 30.0
"""How long a proxied deployment's network may take to be let go by its removed tasks."""


def _made_from(image: str, repositories: Iterable[str]) -> bool:
    return any(image.startswith((f"{repo}:", f"{repo}@")) for repo in repositories)


def remove_from_engine(
    repositories: Sequence[str], docker_host: str | None, namespace: str | None = None
) -> list[str]:
    """Remove the Swarm services, containers and local image tags made from
    ``repositories``, and (given the state's ``namespace``) the reverse proxies, networks
    and proxy image labelled with it; one line per thing removed, or per thing that could
    not be."""
    try:
        client = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
        client.ping()
    except DockerException as error:
        return [f"engine: not reachable ({error}); nothing removed there"]
    said: list[str] = []
    try:
        with contextlib.suppress(APIError):  # an engine outside Swarm mode has no services
            for service in client.services.list():
                spec = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]
                if _made_from(str(spec.get("Image", "")), repositories):
                    service.remove()  # type: ignore[no-untyped-call]
                    said.append(f"engine: removed Swarm service {service.name}")
        for container in client.containers.list(all=True):
            if _is_ours(container, repositories):
                with contextlib.suppress(NotFound):
                    container.remove(force=True)
                    said.append(f"engine: removed container {container.name}")
        if namespace is not None:
            said += _remove_proxies(client, namespace)
        for image in client.images.list():
            for tag in image.tags:
                if _made_from(tag, repositories):
                    try:
                        client.images.remove(tag)
                        said.append(f"engine: removed image tag {tag}")
                    except APIError as error:
                        said.append(f"engine: kept image tag {tag}: {error.explanation}")
    finally:
        client.close()
    return said


def _remove_proxies(client: docker.DockerClient, namespace: str) -> list[str]:
    said = []
    owned = [f"{LABEL_NAMESPACE}={namespace}", f"{LABEL_ROLE}={ROLE_PROXY}"]
    for container in client.containers.list(all=True, filters={"label": owned}):
        with contextlib.suppress(NotFound):
            container.remove(force=True)
            said.append(f"engine: removed proxy container {container.name}")
    networks = [f"{LABEL_NAMESPACE}={namespace}", f"{LABEL_ROLE}={ROLE_NETWORK}"]
    for network in client.networks.list(filters={"label": networks}):
        until = time.monotonic() + NETWORK_SECONDS
        while True:
            try:
                network.remove()
                said.append(f"engine: removed network {network.name}")
                break
            except APIError as error:  # the removed service's tasks may still be going
                if time.monotonic() > until:
                    said.append(f"engine: kept network {network.name}: {error.explanation}")
                    break
                threading.Event().wait(0.25)
    for image in client.images.list(filters={"label": owned}):
        for tag in image.tags:
            with contextlib.suppress(APIError):
                client.images.remove(tag)
                said.append(f"engine: removed image tag {tag}")
    return said


def _is_ours(container: Container, repositories: Sequence[str]) -> bool:
    # A Swarm task's container goes with its service; removing it here would race the engine.
    if SWARM_TASK_LABEL in (container.labels or {}):
        return False
    return _made_from(str(container.attrs.get("Config", {}).get("Image", "")), repositories)


def remove_from_registry(repositories: Sequence[str]) -> list[str]:
    """Delete every tag of ``repositories`` from their registry; one line per tag, or
    why they stay."""
    said: list[str] = []
    for image in repositories:
        host, repository = split_image(image)
        registry = Registry(host)
        try:
            for tag in registry.tags(repository):
                digest = registry.digest(repository, tag)
                if digest is None:
                    continue
                if registry.delete(repository, digest):
                    said.append(f"registry: deleted {image}:{tag}")
                else:
                    said.append(f"registry: kept {image}:{tag} (the registry refuses deletes)")
        except RegistryUnavailable as error:
            said.append(f"registry: {error} {image} is left as it is")
        finally:
            registry.close()
    return said

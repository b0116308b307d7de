"""Removes what one sandbox state made on the Docker engine and in the registry.

A sandbox state pushes its images to repositories of its own (``127.0.0.1:5000/<its
namespace>/web``), so what it made is exactly what runs or is stored under those
repositories: Swarm services and containers started from them, local tags of them, and
their manifests in the registry. Nothing else on the engine or in the registry is touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container

from bot.core.errors import RegistryUnavailable
from integrations.registry import Registry, split_image

SWARM_TASK_LABEL = "com.docker.swarm.service.id"


def _made_from(image: str, repositories: Iterable[str]) -> bool:
    return any(image.startswith((f"{repo}:", f"{repo}@")) for repo in repositories)


def remove_from_engine(repositories: Sequence[str], docker_host: str | None) -> list[str]:
    """Remove the Swarm services, containers and local image tags made from
    ``repositories``; one line per thing removed, or per thing that could not be."""
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

"""The Docker engine: images (build, test, push) and deployments (containers, Swarm).

connect() is the one place a docker client is made; everything else receives it.
"""

from __future__ import annotations

import docker
from docker.errors import DockerException

from bot.core.errors import EngineUnavailable

API_TIMEOUT = 60


def connect(host: str | None) -> docker.DockerClient:
    """A client for the engine at `host` (unix://, tcp://; None: the default socket), with
    the API version negotiated. EngineUnavailable when the engine does not answer."""
    try:
        client = docker.DockerClient(
            base_url=host or "unix:///var/run/docker.sock", version="auto", timeout=API_TIMEOUT
        )
        client.ping()
    except DockerException as error:
        raise EngineUnavailable(
            f"The Docker engine at {host or 'the default socket'} does not answer."
        ) from error
    return client

"""The deployment adapter on the real engine: what runs, and an engine that is down."""

from __future__ import annotations

import uuid

import docker
import pytest

from bot.core.clock import SystemClock
from bot.core.deploys import Target
from bot.core.errors import EngineUnavailable
from integrations.docker_engine.deployments import DockerDeployments, RegistryImages


def _target(kind: str) -> Target:
    return Target(f"absent{uuid.uuid4().hex[:6]}", "prod", "127.0.0.1:5000/x", kind, 8080, "/",
                  None, 1)  # fmt: skip


def test_nothing_deployed_reads_as_no_version(docker_client: docker.DockerClient) -> None:
    engine = DockerDeployments(None, SystemClock())
    assert engine.running(_target("container")).version is None


def test_an_engine_that_is_down_is_named_as_such(tmp_path: object) -> None:
    engine = DockerDeployments(f"unix:///nonexistent/{uuid.uuid4().hex}.sock", SystemClock())
    with pytest.raises(EngineUnavailable):
        engine.running(_target("container"))


def test_a_missing_tag_has_no_digest(registry_addr: str) -> None:
    images = RegistryImages()
    assert images.digest(f"{registry_addr}/opsloop-absent-{uuid.uuid4().hex[:6]}", "1.0.0") is None
    images.close()

"""Registry against the real local registry the test command starts."""

from __future__ import annotations

import uuid
from pathlib import Path

import docker
import pytest

from bot.core.errors import RegistryUnavailable
from integrations.registry import Registry, split_image
from tests.support.images import build_image, write_busybox_context


def test_tags_and_digest_of_a_pushed_image(
    docker_client: docker.DockerClient, registry_addr: str, busybox_path: Path, tmp_path: Path
) -> None:
    repository = f"opsloop-test/registry-{uuid.uuid4().hex[:8]}"
    write_busybox_context(tmp_path, busybox_path, {}, 'CMD ["true"]\n')
    image = build_image(docker_client, tmp_path, f"{registry_addr}/{repository}:1.0.0")
    try:
        for line in docker_client.images.push(
            f"{registry_addr}/{repository}", tag="1.0.0", stream=True, decode=True
        ):
            assert "errorDetail" not in line
        registry = Registry(registry_addr)
        assert registry.tags(repository) == ["1.0.0"]
        digest = registry.digest(repository, "1.0.0")
        assert digest is not None and digest.startswith("sha256:")
        assert registry.digest(repository, "9.9.9") is None
        assert registry.tags("opsloop-test/never-pushed") == []
    finally:
        docker_client.images.remove(image.id, force=True)


def test_a_registry_that_does_not_answer_is_named() -> None:
    with pytest.raises(RegistryUnavailable, match=r"127\.0\.0\.1:9 does not answer"):
        Registry("127.0.0.1:9", timeout=2).tags("web")


def test_split_image() -> None:
    assert split_image("127.0.0.1:5000/team/web") == ("127.0.0.1:5000", "team/web")
    with pytest.raises(ValueError, match="registry host"):
        split_image("web")

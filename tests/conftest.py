"""Session fixtures for every suite: the Docker engine, the local registry, busybox.

scripts/test runs scripts/ensure-docker first, which provides all three and exports
DOCKER_HOST and OPSLOOP_TEST_REGISTRY. When one is missing, the tests using it are
skipped, except with CI=true, where they fail: CI must exercise them.
Suite-specific fixtures live in the conftest files of the sub-folders.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import docker
import httpx
import pytest
import requests
from docker.errors import DockerException

from tests.support.images import is_static_elf

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_REGISTRY = "127.0.0.1:5000"
BUSYBOX = Path("/bin/busybox")
HINT = "scripts/ensure-docker provides it (scripts/test runs it)"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(message: str) -> NoReturn:
    """Skip the test, or fail it under CI=true, where nothing may be skipped for this."""
    if _in_ci():
        pytest.fail(f"{message} [CI=true: required, not skipped]", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client for the engine at DOCKER_HOST (or the default socket)."""
    host = os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    try:
        client = docker.DockerClient.from_env(version="auto", timeout=300)
        client.ping()
    except (DockerException, requests.RequestException, OSError) as exc:
        error = str(exc)
    else:
        error = ""
    if error:
        _unavailable(f"no Docker engine answers at DOCKER_HOST={host} ({error}); {HINT}")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def registry_addr() -> str:
    """host:port of a plain-HTTP registry without auth (OPSLOOP_TEST_REGISTRY)."""
    addr = os.environ.get("OPSLOOP_TEST_REGISTRY") or DEFAULT_REGISTRY
    url = f"http://{addr}/v2/"
    try:
        answer = f"HTTP {httpx.get(url, timeout=5, trust_env=False).status_code}"
    except httpx.HTTPError as exc:
        answer = repr(exc)
    if answer != "HTTP 200":
        _unavailable(f"no registry answers 200 at {url} ({answer}); {HINT}")
    return addr


@pytest.fixture(scope="session")
def busybox_path() -> Path:
    """/bin/busybox from busybox-static, to copy into FROM-scratch images."""
    if not BUSYBOX.is_file():
        _unavailable(f"{BUSYBOX} is missing (Debian package busybox-static); {HINT}")
    if not is_static_elf(BUSYBOX.resolve()):
        _unavailable(f"{BUSYBOX} is not statically linked: install busybox-static; {HINT}")
    return BUSYBOX

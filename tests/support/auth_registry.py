"""A registry that needs a login: Debian's docker-registry with htpasswd authentication on an
ephemeral loopback port, with a user the test names, and `docker login` into a Docker config
folder of the test's own (so the machine's ~/.docker is never touched)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import httpx
import pytest

START_DEADLINE = 20.0

CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: opsloop-auth-test-registry
auth:
  htpasswd:
    realm: opsloop-test
    path: {htpasswd}
"""


@dataclass(frozen=True)
class AuthRegistry:
    """Where the registry listens and who may use it."""

    host: str
    username: str
    password: str

    def login(self, docker_config: Path, docker_host: str) -> None:
        """`docker login` as the user, writing the credentials into `docker_config`/."""
        docker_config.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["docker", "--config", str(docker_config), "--host", docker_host, "login",
             "--username", self.username, "--password-stdin", self.host],
            input=self.password, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(host: str) -> bool:
    try:
        return httpx.get(f"http://{host}/v2/", timeout=1.0).status_code == 401
    except httpx.HTTPError:
        return False


@contextmanager
def auth_registry(folder: Path, username: str, password: str) -> Iterator[AuthRegistry]:
    """Start docker-registry with htpasswd auth for `username`, stop it afterwards."""
    executable = shutil.which("docker-registry")
    if executable is None:
        pytest.skip("docker-registry is not installed (scripts/ensure-docker installs it)")
    folder.mkdir(parents=True, exist_ok=True)
    htpasswd = folder / "htpasswd"
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    htpasswd.write_text(f"{username}:{hashed}\n")
    port = _free_port()
    config = folder / "config.yml"
    config.write_text(CONFIG.format(root=folder / "data", port=port, htpasswd=htpasswd))
    log = (folder / "registry.log").open("w")
    process = subprocess.Popen(
        [executable, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    host = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not _answers(host):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "docker-registry did not start: " + (folder / "registry.log").read_text()
                )
            time.sleep(0.05)
        yield AuthRegistry(host=host, username=username, password=password)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

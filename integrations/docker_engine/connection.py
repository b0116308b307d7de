"""The one owner of the Docker client for an engine: images, deployments and the inventory
all reach the engine through one EngineConnection, which makes its client on first use and
keeps it.

The engine is found as the docker CLI finds it: `host` (opsloop.yml's docker.host, else
DOCKER_HOST), else the local socket; `unix://`, `tcp://` and `ssh://user@host` (through
paramiko, the docker package's ssh extra). TLS follows DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH with the rules of docker.from_env: either one turns TLS on, the folder
(default ~/.docker) holds ca.pem, cert.pem and key.pem, and DOCKER_TLS_VERIFY set to
anything but the empty string makes the client verify the engine's certificate against
ca.pem.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import docker
import requests
from docker.errors import APIError
from docker.tls import TLSConfig

from integrations.docker_engine.failures import ENGINE_FAILURES, engine_call

DEFAULT_HOST = "unix:///var/run/docker.sock"
API_TIMEOUT = 60


class _EngineAPI(docker.APIClient):
    """docker-py's API client, except that the engine's CA stays the one TLS verifies
    against: requests would let REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE in the environment
    replace it (the docker CLI never does)."""

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        settings: Any = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if isinstance(self.verify, str):
            settings["verify"] = self.verify
        return settings


class _EngineClient(docker.DockerClient):
    """docker.DockerClient over _EngineAPI."""

    def __init__(self, **options: Any) -> None:
        self.api = _EngineAPI(**options)


def tls_from_environ(environ: Mapping[str, str]) -> TLSConfig | None:
    """The TLS settings DOCKER_TLS_VERIFY and DOCKER_CERT_PATH ask for (None: plain).
    A missing certificate file is a TLSParameterError when the client is made."""
    cert_path = environ.get("DOCKER_CERT_PATH") or None
    verify_flag = environ.get("DOCKER_TLS_VERIFY")
    verify = verify_flag is not None and verify_flag != ""
    if not cert_path and not verify:
        return None
    folder = cert_path or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".docker")
    return TLSConfig(
        client_cert=(os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")),
        ca_cert=os.path.join(folder, "ca.pem"),
        verify=verify,
    )


class EngineConnection:
    """The Docker engine at one address, with its one shared client.

    `call(doing)` hands out the client and turns whatever the call raises into the error
    tree (integrations.docker_engine.failures). After a connection failure the client is
    dropped, so the next call connects afresh (an engine that came back, a new ssh session).
    """

    def __init__(
        self,
        host: str | None,
        environ: Mapping[str, str] | None = None,
        timeout: int = API_TIMEOUT,
    ) -> None:
        env = environ or {}
        self.host = host or env.get("DOCKER_HOST") or DEFAULT_HOST
        self._environ = dict(env)
        self._timeout = timeout
        self._client: docker.DockerClient | None = None
        self._guard = threading.Lock()

    def client(self) -> docker.DockerClient:
        """The shared client, made (and the API version agreed) on first use;
        EngineUnavailable, saying why, when the engine cannot be reached."""
        with self._guard:
            if self._client is None:
                self._client = self._make()
            return self._client

    @contextlib.contextmanager
    def call(self, doing: str) -> Iterator[docker.DockerClient]:
        """The shared client for one piece of work described by `doing` ("pull `web:1`");
        an engine failure in the block leaves it as an OpsloopError saying what failed."""
        with engine_call(self.host, doing):
            client = self.client()
            try:
                yield client
            except ENGINE_FAILURES as error:
                if not isinstance(error, APIError | requests.Timeout):
                    self._forget(client)
                raise

    @contextlib.contextmanager
    def dedicated(self, doing: str) -> Iterator[docker.DockerClient]:
        """A client of its own for one long stream (a build), closed afterwards, so that
        hanging up on it stops that stream and nothing else; failures as in `call`."""
        with engine_call(self.host, doing):
            client = self._make()
            try:
                yield client
            finally:
                client.close()

    def check(self) -> None:
        """EngineUnavailable, saying why, unless the engine answers a ping."""
        with self.call("answer a ping") as client:
            client.ping()

    def close(self) -> None:
        """Close the shared client (a later call connects again)."""
        with self._guard:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _make(self) -> docker.DockerClient:
        with engine_call(self.host, "answer"):
            return _EngineClient(
                base_url=self.host,
                version="auto",
                timeout=self._timeout,
                tls=tls_from_environ(self._environ) or False,
                use_ssh_client=False,
            )

    def _forget(self, client: docker.DockerClient) -> None:
        # Not closed here: other threads may still be reading from it; it goes with them.
        with self._guard:
            if self._client is client:
                self._client = None

"""The one connection to the engine: how the docker CLI finds an engine (DOCKER_HOST, TLS
from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, ssh://) and what it says when it cannot reach
it. TLS runs against the real engine behind a TLS-terminating forwarder on loopback, with
certificates the test makes."""

from __future__ import annotations

import socket
import threading
import uuid
from pathlib import Path

import docker
import pytest

from bot.core.clock import SystemClock
from bot.core.deploy.model import Target
from bot.core.errors import EngineUnavailable
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.deployments import DockerDeployments
from integrations.docker_engine.images import DockerImages
from integrations.docker_engine.inventory import DockerInventory
from tests.scenarios.deploy.support import free_port
from tests.support.forwarders import EngineForwarder, TestCA

pytestmark = pytest.mark.docker


@pytest.fixture
def tls_engine(
    docker_client: docker.DockerClient, tmp_path: Path
) -> tuple[EngineForwarder, TestCA]:
    """The real engine behind TLS on 127.0.0.1 (client certificates required), and its CA."""
    ca = TestCA("opsloop test CA")
    forwarder = EngineForwarder(ca.server_context(tmp_path / "server"))
    yield forwarder, ca
    forwarder.stop()


def test_tls_from_docker_tls_verify_and_docker_cert_path_reaches_the_engine(
    tls_engine: tuple[EngineForwarder, TestCA],
    tmp_path: Path,
    docker_client: docker.DockerClient,
) -> None:
    forwarder, ca = tls_engine
    certs = ca.client_folder(tmp_path / "client")
    environ = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}
    connection = EngineConnection(forwarder.url, environ)
    try:
        connection.check()
        with connection.call("read its version") as client:
            assert client.version()["ApiVersion"] == docker_client.version()["ApiVersion"]
        # Every adapter goes through it: nothing deployed under this name reads as nothing.
        service = f"tls{uuid.uuid4().hex[:6]}"
        assert DockerInventory(connection, "tlstest").deployment(service, "prod") is None
        target = Target(service, "prod", "127.0.0.1:5000/x", "container", 8080, "/", None, 1)
        assert (
            DockerDeployments(connection, SystemClock(), namespace="tlstest")
            .running(target)
            .version
            is None
        )
    finally:
        connection.close()


def test_a_certificate_from_another_ca_is_refused_with_the_reason(
    tls_engine: tuple[EngineForwarder, TestCA], tmp_path: Path
) -> None:
    forwarder, ca = tls_engine
    stranger = TestCA("some other CA")
    certs = ca.client_folder(tmp_path / "client", trusted=stranger)
    environ = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}
    with pytest.raises(EngineUnavailable) as refused:
        DockerImages(EngineConnection(forwarder.url, environ)).check()
    said = refused.value.message
    assert forwarder.url in said
    assert "certificate" in said and "DOCKER_CERT_PATH" in said and "TLS error" in said
    assert "does not answer" not in said


def test_missing_client_certificates_are_named(tmp_path: Path) -> None:
    environ = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path / "empty")}
    with pytest.raises(EngineUnavailable, match="unusable TLS settings"):
        EngineConnection(f"tcp://127.0.0.1:{free_port()}", environ).check()


def test_a_refused_connection_says_refused() -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(EngineUnavailable) as refused:
        EngineConnection(url).check()
    assert refused.value.message == (
        f"The Docker engine at {url} refused the connection "
        "(nothing listens there, or the engine is stopped)."
    )


def test_ssh_engines_are_reached_through_paramiko_and_their_failures_named() -> None:
    # Nothing listens: paramiko itself reports it, so the ssh extra is installed and used.
    port = free_port()
    with pytest.raises(EngineUnavailable, match=r"could not be reached over ssh .*Unable to"):
        EngineConnection(f"ssh://opsloop@127.0.0.1:{port}").check()
    # Something listens but speaks no ssh.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def answer_garbage() -> None:
        connection, _ = listener.accept()
        connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        stop.wait(10)
        connection.close()

    threading.Thread(target=answer_garbage, daemon=True).start()
    try:
        url = f"ssh://opsloop@127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(EngineUnavailable, match=r"over ssh \(SSHException: .*banner"):
            EngineConnection(url).check()
    finally:
        stop.set()
        listener.close()


def test_docker_host_from_the_environment_is_the_default(
    docker_client: docker.DockerClient,
) -> None:
    with EngineForwarder() as forwarder:
        connection = EngineConnection(None, {"DOCKER_HOST": forwarder.url})
        assert connection.host == forwarder.url
        connection.check()
        connection.close()

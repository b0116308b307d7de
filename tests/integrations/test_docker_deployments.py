"""The deployment adapter on the real engine: what runs, and an engine that is down; on
loopback stand-ins: an engine not in Swarm mode (checked before approval; cleanup works on
it), and the registry's connections."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import httpx
import pytest

from bot.core.clock import SystemClock
from bot.core.deploy.model import DeployState, Target
from bot.core.errors import EngineUnavailable, IntegrationError, UsageError
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.deployments import DockerDeployments
from integrations.registry import RegistryImages
from tests.scenarios.deploy.support import free_port, remove_deployments
from tests.support.images import HTTPD_DOCKERFILE_TAIL, build_image, write_busybox_context


def _target(kind: str) -> Target:
    return Target(f"absent{uuid.uuid4().hex[:6]}", "prod", "127.0.0.1:5000/x", kind, 8080, "/",
                  None, 1)  # fmt: skip


NS = "inttest"


def test_nothing_deployed_reads_as_no_version(docker_client: docker.DockerClient) -> None:
    engine = DockerDeployments(EngineConnection(None), SystemClock(), namespace=NS)
    assert engine.running(_target("container")).version is None


def test_an_engine_that_is_down_is_named_as_such(tmp_path: object) -> None:
    engine = DockerDeployments(
        EngineConnection(f"unix:///nonexistent/{uuid.uuid4().hex}.sock"),
        SystemClock(),
        namespace=NS,
    )
    with pytest.raises(EngineUnavailable, match="has no socket there"):
        engine.running(_target("container"))


def test_a_missing_tag_has_no_digest(registry_addr: str) -> None:
    images = RegistryImages()
    assert images.digest(f"{registry_addr}/opsloop-absent-{uuid.uuid4().hex[:6]}", "1.0.0") is None
    images.close()


class _Loopback:
    """A tiny HTTP server on an ephemeral loopback port, answering with `answer(path)` and
    counting the TCP connections it was opened (and closed) on."""

    def __init__(self, answer: Callable[[str], tuple[int, dict[str, str], bytes]]) -> None:
        self.opened = 0
        self.closed = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: one connection serves many requests

            def setup(self) -> None:
                super().setup()
                owner.opened += 1

            def finish(self) -> None:
                super().finish()
                owner.closed += 1

            def _serve(self) -> None:
                status, headers, body = answer(self.path)
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = _serve

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _not_a_swarm_manager(path: str) -> tuple[int, dict[str, str], bytes]:
    json = {"Content-Type": "application/json"}
    if path.endswith("/version"):
        return 200, json, b'{"ApiVersion": "1.41", "Version": "20.10.0"}'
    if path.endswith("/_ping"):
        return 200, {"Content-Type": "text/plain"}, b"OK"
    if path.endswith("/info"):
        return 200, json, b'{"Swarm": {"LocalNodeState": "inactive", "ControlAvailable": false}}'
    if "/containers/json" in path:
        return 200, json, b"[]"
    if "/services" in path:
        # What dockerd answers on an engine that is not in Swarm mode.
        message = b'{"message": "This node is not a swarm manager. Use \\"docker swarm init\\""}'
        return 503, json, message
    return 404, json, b'{"message": "no such thing"}'


def test_a_swarm_target_on_an_engine_not_in_swarm_mode_says_how_to_turn_it_on() -> None:
    engine_api = _Loopback(_not_a_swarm_manager)
    engine = DockerDeployments(
        EngineConnection(f"tcp://127.0.0.1:{engine_api.port}"), SystemClock(), namespace=NS
    )
    try:
        for check in (engine.preflight, engine.running):
            with pytest.raises(IntegrationError) as refused:
                check(_target("swarm"))
            assert not isinstance(refused.value, EngineUnavailable)
            assert "not in Swarm mode" in refused.value.message
            assert "docker swarm init --advertise-addr 127.0.0.1" in refused.value.message
        engine.preflight(_target("container"))  # containers need no Swarm
    finally:
        engine.close()
        engine_api.stop()


def test_cleanup_works_on_an_engine_that_was_never_in_swarm_mode() -> None:
    engine_api = _Loopback(_not_a_swarm_manager)
    client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{engine_api.port}", version="1.41")
    try:
        remove_deployments(client, "web")  # no Swarm services to remove, and no error
    finally:
        client.close()
        engine_api.stop()


def test_an_image_without_a_registry_host_is_named_in_a_clear_answer() -> None:
    with pytest.raises(UsageError, match=r"`web`.*registry host"):
        RegistryImages().digest("web", "1.0.0")


def test_registry_lookups_share_one_connection_closed_on_close() -> None:
    digest = "sha256:" + "ab" * 32
    registry = _Loopback(lambda _path: (200, {"Docker-Content-Digest": digest}, b"{}"))
    images = RegistryImages()
    try:
        for version in ("1.0.0", "1.1.0", "1.2.0"):
            assert images.digest(f"127.0.0.1:{registry.port}/web", version) == digest
        assert registry.opened == 1
        images.close()
        wait_until(lambda: registry.closed == 1)
    finally:
        registry.stop()


def wait_until(check: Callable[[], bool], deadline: float = 10.0) -> None:
    """Poll `check` until true; AssertionError after `deadline` seconds."""
    until = time.monotonic() + deadline
    while not check():
        if time.monotonic() > until:
            raise AssertionError("the condition never held")
        threading.Event().wait(0.02)


def test_progress_messages_failing_cannot_cut_a_swap_short(
    docker_client: docker.DockerClient, registry_addr: str, busybox_path: Path, tmp_path: Path
) -> None:
    repository = f"{registry_addr}/opsloop-swap-{uuid.uuid4().hex[:8]}"
    context = write_busybox_context(
        tmp_path / "ctx", busybox_path, {"www/health": "up"}, HTTPD_DOCKERFILE_TAIL
    )
    build_image(docker_client, context, f"{repository}:1", {})
    docker_client.images.push(repository, tag="1")
    port = free_port()
    service = f"swap{uuid.uuid4().hex[:6]}"
    target = Target(service, "prod", repository, "container", 8080, "/health", port, 1,
                    publish_mode="host")  # fmt: skip
    engine = DockerDeployments(
        EngineConnection(None), SystemClock(), namespace=NS, health_deadline=10
    )
    said: list[str] = []

    def slack_is_down(text: str) -> None:
        said.append(text)
        raise RuntimeError("Slack is down")

    try:
        first = engine.deploy(target, f"{repository}:1", "1", "1", lambda _text: None)
        assert first.state is DeployState.SUCCEEDED
        # The swap (stop the old container, start the new one or put the old one back)
        # goes on to the end whatever the progress messages do.
        second = engine.deploy(target, f"{repository}:1", "2", "2", slack_is_down)
        assert second.state is DeployState.SUCCEEDED
        assert any(text.startswith("Candidate healthy") for text in said)
        assert engine.running(target).version == "2"
        wait_until(lambda: _answers(port))
    finally:
        remove_deployments(docker_client, service)
        engine.close()
        docker_client.images.remove(f"{repository}:1", force=True)


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).is_success
    except httpx.HTTPError:
        return False

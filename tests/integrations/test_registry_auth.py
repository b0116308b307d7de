"""The registry adapter against registries that need a login: Debian's docker-registry with
htpasswd (Basic) and `docker login`, and a loopback token service for the Bearer challenge;
Link pagination for tags; plain HTTP only for docker.insecure_registries."""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import docker
import httpx
import pytest

from bot.core.errors import RegistryUnavailable
from bot.core.naming import OCI_REVISION
from integrations.registry import (
    Registry,
    RegistryAccess,
    RegistryImages,
    RegistryReleases,
    is_insecure,
)
from integrations.registry_auth import Credentials, RegistryAuth
from tests.support.auth_registry import AuthRegistry, auth_registry
from tests.support.images import build_image, write_busybox_context

PASSWORD = "s3cret-" + uuid.uuid4().hex[:8]
REVISION = "c" * 40


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[AuthRegistry]:
    with auth_registry(tmp_path / "registry", "ci-bot", PASSWORD) as running:
        yield running


def _push(client: docker.DockerClient, registry: AuthRegistry, folder: Path, busybox: Path,
          *, repository: str, tags: list[str]) -> None:  # fmt: skip
    write_busybox_context(folder, busybox, {}, 'CMD ["true"]\n')
    name = f"{registry.host}/{repository}"
    image = build_image(client, folder, f"{name}:{tags[0]}", {OCI_REVISION: REVISION})
    login = {"username": registry.username, "password": registry.password}
    try:
        for tag in tags:
            image.tag(name, tag)
            for line in client.images.push(name, tag=tag, stream=True, decode=True,
                                           auth_config=login):  # fmt: skip
                assert "errorDetail" not in line, line
    finally:
        client.images.remove(str(image.id), force=True)


@pytest.mark.docker
def test_a_registry_that_needs_a_login_is_read_with_the_docker_logins_credentials(
    docker_client: docker.DockerClient, locked: AuthRegistry, busybox_path: Path, tmp_path: Path
) -> None:
    repository = "team/web"
    _push(docker_client, locked, tmp_path / "ctx", busybox_path, repository=repository,
          tags=["1.0.0", "1.1.0"])  # fmt: skip
    image = f"{locked.host}/{repository}"
    docker_config = tmp_path / "docker-config"

    # Without a login: the answer says which registry and what to run, and nothing is sent.
    anonymous = RegistryReleases(RegistryAccess(docker_config=docker_config / "config.json"))
    with pytest.raises(RegistryUnavailable, match=rf"docker login {locked.host}") as refused:
        anonymous.tags(image)
    assert "needs a login" in refused.value.message

    locked.login(docker_config, os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
    access = RegistryAccess(docker_config=docker_config / "config.json")
    releases = RegistryReleases(access)
    assert sorted(releases.tags(image)) == ["1.0.0", "1.1.0"]
    assert releases.revision(image, "1.1.0") == REVISION
    images = RegistryImages(access)
    try:
        digest = images.digest(image, "1.0.0")
        assert digest is not None and digest.startswith("sha256:")
        assert images.digest(image, "9.9.9") is None
    finally:
        images.close()


@pytest.mark.docker
def test_wrong_credentials_are_named_without_showing_them(
    locked: AuthRegistry, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    wrong = base64.b64encode(b"ci-bot:not-the-password").decode()
    config.write_text(json.dumps({"auths": {locked.host: {"auth": wrong}}}))
    with pytest.raises(RegistryUnavailable, match="refused the credentials") as refused:
        RegistryReleases(RegistryAccess(docker_config=config)).tags(f"{locked.host}/team/web")
    assert "not-the-password" not in refused.value.message


@pytest.mark.docker
def test_tags_are_read_over_every_page(
    docker_client: docker.DockerClient, locked: AuthRegistry, busybox_path: Path, tmp_path: Path
) -> None:
    tags = [f"1.0.{n}" for n in range(5)]
    _push(docker_client, locked, tmp_path / "ctx", busybox_path, repository="team/paged", tags=tags)
    config = tmp_path / "config.json"
    login = base64.b64encode(f"ci-bot:{PASSWORD}".encode()).decode()
    config.write_text(json.dumps({"auths": {locked.host: {"auth": login}}}))
    registry = Registry(locked.host, RegistryAccess(docker_config=config), page_size=2)
    try:
        assert sorted(registry.tags("team/paged")) == tags
    finally:
        registry.close()


class _TokenRegistry:
    """A registry behind a token service, as Docker Hub, GHCR and Harbor are: /v2/ paths
    answer 401 with a Bearer challenge unless they carry a token the /token path handed out
    for the right user; /token takes Basic credentials (or none, for an anonymous token)."""

    def __init__(self, users: dict[str, str], anonymous: bool = False) -> None:
        self.token_requests: list[dict[str, list[str]]] = []
        self.tokens: set[str] = set()
        self.elsewhere = ""
        """Where the Link header sends the next page: this registry when empty."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/token":
                    owner.token(self, parse_qs(parts.query))
                    return
                if (
                    self.headers.get("Authorization", "").removeprefix("Bearer ")
                    not in owner.tokens
                ):
                    realm = f"http://127.0.0.1:{owner.port}/token"
                    scope = "repository:team/web:pull"
                    challenge = f'Bearer realm="{realm}",service="test",scope="{scope}"'
                    self._send(401, {"errors": []}, {"WWW-Authenticate": challenge})
                elif "last=" not in parts.query:
                    link = f'<{owner.elsewhere}/v2/team/web/tags/list?n=2&last=1.1.0>; rel="next"'
                    self._send(200, {"tags": ["1.0.0", "1.1.0"]}, {"Link": link})
                else:
                    self._send(200, {"tags": ["2.0.0"]}, {})

            def _send(self, status: int, body: object, headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for key, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.users = users
        self.anonymous = anonymous
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, handler: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        self.token_requests.append(query)
        header = handler.headers.get("Authorization", "")
        user, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
        if (header and self.users.get(user) == password) or (not header and self.anonymous):
            token = uuid.uuid4().hex
            self.tokens.add(token)
            handler._send(200, {"token": token, "expires_in": 300}, {})  # type: ignore[attr-defined]
        else:
            handler._send(401, {"errors": []}, {})  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_bearer_challenge_is_answered_with_a_token_from_the_realm(tmp_path: Path) -> None:
    service = _TokenRegistry({"ci-bot": PASSWORD})
    host = f"127.0.0.1:{service.port}"
    config = tmp_path / "config.json"
    login = base64.b64encode(f"ci-bot:{PASSWORD}".encode()).decode()
    config.write_text(json.dumps({"auths": {host: {"auth": login}}}))
    registry = Registry(host, RegistryAccess(docker_config=config))
    try:
        assert registry.tags("team/web") == ["1.0.0", "1.1.0", "2.0.0"]
        assert registry.tags("team/web") == ["1.0.0", "1.1.0", "2.0.0"]
        # One token for the repository, reused for every page and the second listing.
        assert len(service.token_requests) == 1
        assert service.token_requests[0] == {
            "service": ["test"],
            "scope": ["repository:team/web:pull"],
        }
    finally:
        registry.close()
        service.stop()


def test_public_repositories_get_an_anonymous_token_and_refusals_are_explained() -> None:
    public = _TokenRegistry({}, anonymous=True)
    private = _TokenRegistry({})
    try:
        registry = Registry(f"127.0.0.1:{public.port}")
        assert registry.tags("team/web") == ["1.0.0", "1.1.0", "2.0.0"]
        registry.close()
        host = f"127.0.0.1:{private.port}"
        with pytest.raises(RegistryUnavailable, match=f"needs a login.*docker login {host}"):
            Registry(host).tags("team/web")
    finally:
        public.stop()
        private.stop()


def test_a_refused_token_login_is_said_when_reading_a_revision(tmp_path: Path) -> None:
    service = _TokenRegistry({"ci-bot": PASSWORD})
    host = f"127.0.0.1:{service.port}"
    config = tmp_path / "config.json"
    wrong = base64.b64encode(b"ci-bot:not-the-password").decode()
    config.write_text(json.dumps({"auths": {host: {"auth": wrong}}}))
    registry = Registry(host, RegistryAccess(docker_config=config))
    releases = RegistryReleases(RegistryAccess(docker_config=config))
    try:
        # Not "no revision label" (None): the token service turned the credentials away.
        with pytest.raises(RegistryUnavailable, match=f"refused the credentials.*{host}"):
            registry.revision("team/web", "1.0.0")
        with pytest.raises(RegistryUnavailable, match="docker login"):
            releases.revision(f"{host}/team/web", "1.0.0")
        assert len(service.token_requests) == 2
    finally:
        registry.close()
        service.stop()


def test_plain_http_only_for_the_insecure_registries() -> None:
    loopback = ("127.0.0.0/8",)
    assert is_insecure("127.0.0.1:5000", loopback)
    assert is_insecure("localhost:5000", loopback)
    assert not is_insecure("registry.example.com", loopback)
    assert is_insecure("10.1.2.3:5000", ("10.0.0.0/8",))
    assert is_insecure("registry.lan:5000", ("registry.lan:5000",))
    assert is_insecure("registry.lan:5000", ("registry.lan",))
    assert not is_insecure("registry.lan:5001", ("registry.lan:5000",))
    assert not is_insecure("127.0.0.1:5000", ())


def test_a_registry_not_listed_as_insecure_is_spoken_to_over_https() -> None:
    # A plain-HTTP registry on loopback, with loopback left out of insecure_registries: opsloop
    # speaks TLS to it, which it does not answer.
    service = _TokenRegistry({}, anonymous=True)
    try:
        with pytest.raises(RegistryUnavailable, match="does not answer"):
            Registry(f"127.0.0.1:{service.port}", RegistryAccess(insecure=())).tags("team/web")
        registry = Registry(f"127.0.0.1:{service.port}", RegistryAccess(insecure=("127.0.0.1",)))
        assert registry.tags("team/web")
        registry.close()
    finally:
        service.stop()


def test_a_token_realm_over_plain_http_gets_no_credentials_from_a_secure_registry() -> None:
    auth = RegistryAuth("registry.example.com", Credentials("ci-bot", PASSWORD))
    challenge = httpx.Response(
        401,
        headers={"WWW-Authenticate": 'Bearer realm="http://auth.example.com/token"'},
        request=httpx.Request("GET", "https://registry.example.com/v2/team/web/tags/list"),
    )
    flow = auth.auth_flow(challenge.request)
    next(flow)
    with pytest.raises(RegistryUnavailable, match="not an HTTPS address") as refused:
        flow.send(challenge)
    assert PASSWORD not in refused.value.message


def test_a_next_page_on_another_host_is_not_followed_with_the_credentials(tmp_path: Path) -> None:
    service = _TokenRegistry({"ci-bot": PASSWORD})
    service.elsewhere = "http://127.0.0.2:9"
    host = f"127.0.0.1:{service.port}"
    config = tmp_path / "config.json"
    login = base64.b64encode(f"ci-bot:{PASSWORD}".encode()).decode()
    config.write_text(json.dumps({"auths": {host: {"auth": login}}}))
    registry = Registry(host, RegistryAccess(docker_config=config))
    try:
        with pytest.raises(RegistryUnavailable, match="to another host"):
            registry.tags("team/web")
    finally:
        registry.close()
        service.stop()

"""Signing in to a registry the way the docker CLI does: the credentials `docker login` left
in the Docker config (read through docker.auth, so credential stores and helpers work too),
offered to whichever challenge the registry answers with, Basic or Bearer (a token from the
realm it names, kept per repository until it expires)."""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from docker import auth as docker_auth
from docker.errors import DockerException

from bot.core.errors import RegistryUnavailable

log = logging.getLogger(__name__)

DOCKER_HUB = "docker.io"
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_REPOSITORY_PATH = re.compile(r"^/v2/(.+?)/(?:tags|manifests|blobs)/")
_TOKEN_MARGIN = 10.0


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and password, or an identity (refresh) token; never shown in a repr."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)


def docker_credentials(registry: str, config_path: Path | None = None) -> Credentials | None:
    """What the Docker config (`config_path`, else $DOCKER_CONFIG/config.json or
    ~/.docker/config.json) holds for `registry`; None when nothing, or unreadable (logged)."""
    try:
        config = docker_auth.load_config(str(config_path) if config_path else None)
        entry = config.resolve_authconfig(registry)
    except (DockerException, OSError, ValueError) as error:
        log.warning("could not read Docker credentials for %s: %s", registry, error)
        return None
    if not entry:
        return None
    token = str(entry.get("IdentityToken") or "")
    username = str(entry.get("username") or entry.get("Username") or "")
    password = str(entry.get("password") or entry.get("Password") or "")
    if not token and not (username and password):
        return None
    return Credentials(username=username, password=password, identity_token=token)


@dataclass(frozen=True, slots=True)
class Challenge:
    """A WWW-Authenticate header: its scheme (lowercase) and parameters."""

    scheme: str
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """`Bearer realm="https://auth/token",service="registry"` as a Challenge; None if empty."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    return Challenge(scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest)))


class RegistryAuth(httpx.Auth):
    """Answers 401s from one registry: Basic with the credentials, or Bearer with a token
    fetched from the challenge's realm (with the credentials when there are any, else
    anonymously, as public repositories allow)."""

    def __init__(
        self, registry: str, credentials: Credentials | None, *, plain_http: bool = False
    ) -> None:
        self._registry = registry
        self._credentials = credentials
        # A token realm over plain HTTP is only followed for a registry that is itself
        # spoken to over plain HTTP (docker.insecure_registries): credentials never travel
        # in clear to a registry configured as secure.
        self._plain_http = plain_http
        self._lock = threading.Lock()
        self._basic: str | None = None
        self._tokens: dict[str, tuple[str, float]] = {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send with what worked before; on a 401, answer the challenge once and resend."""
        repository = _repository(request)
        known = self._known(repository)
        if known:
            request.headers["Authorization"] = known
        response = yield request
        if response.status_code != 401:
            return
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None:
            return
        if challenge.scheme == "basic":
            if self._credentials is None or not self._credentials.username:
                return
            header = basic_header(self._credentials)
            with self._lock:
                self._basic = header
        elif challenge.scheme == "bearer":
            token_response = yield self._token_request(challenge)
            header = self._bearer(token_response, repository)
        else:
            return
        request.headers["Authorization"] = header
        yield request

    def _known(self, repository: str) -> str | None:
        with self._lock:
            if self._basic:
                return self._basic
            token, expires = self._tokens.get(repository, ("", 0.0))
            return f"Bearer {token}" if token and time.monotonic() < expires else None

    def _token_request(self, challenge: Challenge) -> httpx.Request:
        realm = challenge.params.get("realm", "")
        schemes = ("https://", "http://") if self._plain_http else ("https://",)
        if not realm.startswith(schemes):
            raise RegistryUnavailable(
                f"The registry {self._registry} asked for a token from {realm or 'nowhere'}, "
                "which is not an HTTPS address; opsloop sends no credentials there."
            )
        query = {k: v for k, v in challenge.params.items() if k in ("service", "scope")}
        credentials = self._credentials
        if credentials is not None and credentials.identity_token:
            form = {**query, "grant_type": "refresh_token", "client_id": "opsloop"}
            form["refresh_token"] = credentials.identity_token
            return httpx.Request("POST", realm, data=form)
        headers = {}
        if credentials is not None and credentials.username:
            headers["Authorization"] = basic_header(credentials)
        return httpx.Request("GET", realm, params=query, headers=headers)

    def _bearer(self, response: httpx.Response, repository: str) -> str:
        response.read()
        if response.status_code in (401, 403):
            raise RegistryUnavailable(self.refused_message(response.status_code))
        try:
            body = response.json()
            token = str(body.get("token") or body.get("access_token") or "")
            lifetime = float(body.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            token, lifetime = "", 0.0
        if response.status_code != 200 or not token:
            raise RegistryUnavailable(
                f"The token service of {self._registry} answered {response.status_code} "
                "without a token."
            )
        with self._lock:
            expires = time.monotonic() + max(lifetime - _TOKEN_MARGIN, 1.0)
            self._tokens[repository] = (token, expires)
        return f"Bearer {token}"

    def refused_message(self, status: int) -> str:
        """What to tell the user when the registry turns opsloop away."""
        if self._credentials is None:
            return (
                f"The registry {self._registry} needs a login ({status}), and the Docker "
                f"config has no credentials for it: run `docker login {self._registry}` as "
                "the user opsloop runs as."
            )
        return (
            f"The registry {self._registry} refused the credentials the Docker config holds "
            f"for it ({status}): run `docker login {self._registry}` again."
        )


def basic_header(credentials: Credentials) -> str:
    """The Authorization value for HTTP Basic with these credentials."""
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _repository(request: httpx.Request) -> str:
    match = _REPOSITORY_PATH.match(request.url.path)
    return match.group(1) if match else ""

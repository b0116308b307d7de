"""The image registry's HTTP API (Docker Registry v2 / OCI distribution), the one adapter for
it: which tags exist (every page), what digest a tag points at, an image's revision label.

Registries are reached as the docker CLI reaches them: with the credentials the Docker config
holds for them (integrations.registry_auth), over HTTPS, or plain HTTP for the registries
opsloop.yml lists under docker.insecure_registries. RegistryReleases (Build's
ReleaseRegistry port) and RegistryImages (Deploy's ImageIndex port) sit on top.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.core.errors import RegistryUnavailable, UsageError
from bot.core.naming import OCI_REVISION
from integrations.registry_auth import DOCKER_HUB, RegistryAuth, docker_credentials

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)
TAGS_PAGE = 1000
MAX_PAGES = 100
# Docker Hub's API does not live at the name images use for it.
_API_HOSTS = {DOCKER_HUB: "registry-1.docker.io", "index.docker.io": "registry-1.docker.io"}


def split_image(image: str) -> tuple[str, str]:
    """`127.0.0.1:5000/team/web` is registry `127.0.0.1:5000` and repository `team/web`."""
    host, _, repository = image.partition("/")
    if not repository or not ("." in host or ":" in host or host == "localhost"):
        raise ValueError(f"{image} does not name a registry host")
    return host, repository


def is_insecure(host: str, insecure: Sequence[str]) -> bool:
    """Whether `host` (`name[:port]`) is one of `insecure`: the same host[:port], the same
    name whatever the port, or an address in one of its ranges (`127.0.0.0/8`); `localhost`
    counts as 127.0.0.1. Names are not resolved."""
    name, port = _host_and_port(host)
    address = "127.0.0.1" if name == "localhost" else name
    for entry in insecure:
        if "/" in entry:
            try:
                if ipaddress.ip_address(address) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        elif entry in (host, name) or (not port and _host_and_port(entry)[0] == name):
            return True
    return False


@dataclass(frozen=True, slots=True)
class RegistryAccess:
    """How registries are reached: which take plain HTTP, and where the Docker config with
    their credentials is (None: where the docker CLI looks)."""

    insecure: tuple[str, ...] = ("127.0.0.0/8",)
    docker_config: Path | None = None


class Registry:
    """One registry, signed in to with the Docker config's credentials for it."""

    def __init__(
        self,
        host: str,
        access: RegistryAccess | None = None,
        timeout: float = 10.0,
        page_size: int = TAGS_PAGE,
    ) -> None:
        access = access or RegistryAccess()
        plain = is_insecure(host, access.insecure)
        self._base = f"{'http' if plain else 'https'}://{_API_HOSTS.get(host, host)}/v2/"
        credentials = docker_credentials(host, access.docker_config)
        self._auth = RegistryAuth(host, credentials, plain_http=plain)
        self._http = httpx.Client(timeout=timeout, trust_env=False, auth=self._auth)
        self._page = page_size
        self.host = host

    def tags(self, repository: str) -> list[str]:
        """The repository's tags, following the Link header over every page; empty when the
        repository does not exist yet."""
        found: list[str] = []
        url = f"{self._base}{repository}/tags/list?n={self._page}"
        for _page in range(MAX_PAGES):
            response = self._request("GET", url)
            if response.status_code == 404:
                return found
            self._check(response, repository)
            found += list(response.json().get("tags") or [])
            following = response.links.get("next", {}).get("url")
            if not following:
                return found
            next_url = response.url.join(following)
            if (next_url.scheme, next_url.host, next_url.port) != (
                response.url.scheme,
                response.url.host,
                response.url.port,
            ):
                # The credentials go with every request: never to another origin.
                raise RegistryUnavailable(
                    f"The registry {self.host} sent the next page of {repository}'s tags to "
                    "another host; opsloop does not follow it there."
                )
            url = str(next_url)
        raise RegistryUnavailable(
            f"The registry {self.host} listed more than {MAX_PAGES} pages of tags for "
            f"{repository}; opsloop stopped there."
        )

    def digest(self, repository: str, tag: str) -> str | None:
        """The manifest digest `tag` points at, or None when there is no such tag."""
        response = self._request("HEAD", f"{self._base}{repository}/manifests/{tag}")
        if response.status_code == 404:
            return None
        self._check(response, f"{repository}:{tag}")
        digest: str | None = response.headers.get("Docker-Content-Digest")
        return digest

    def delete(self, repository: str, digest: str) -> bool:
        """Delete the manifest ``digest`` (and so every tag on it); False when the
        registry does not allow deletes (405) or has no such manifest (404)."""
        response = self._request("DELETE", f"{self._base}{repository}/manifests/{digest}")
        if response.status_code in (404, 405):
            return False
        self._check(response, f"{repository}@{digest}")
        return True

    def revision(self, repository: str, tag: str) -> str | None:
        """The org.opencontainers.image.revision label of `repository:tag`, read from its
        config blob; None when the tag, its config or the label is missing or unreadable.
        RegistryUnavailable when the registry (or its token service) refuses opsloop's
        credentials or does not answer: that is not the same as an image without a label."""
        manifest = self._request("GET", f"{self._base}{repository}/manifests/{tag}")
        if manifest.status_code in (401, 403):
            self._check(manifest, f"{repository}:{tag}")
        try:
            config = (manifest.json().get("config") or {}).get("digest")
        except (ValueError, AttributeError):
            return None
        if manifest.status_code != 200 or not config:
            return None
        blob = self._request("GET", f"{self._base}{repository}/blobs/{config}")
        if blob.status_code in (401, 403):
            self._check(blob, f"{repository}:{tag}")
        try:
            labels = (blob.json().get("config") or {}).get("Labels") or {}
        except (ValueError, AttributeError):
            return None
        revision = labels.get(OCI_REVISION)
        return revision if isinstance(revision, str) else None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _request(self, method: str, url: str) -> httpx.Response:
        try:
            return self._http.request(method, url, headers={"Accept": MANIFEST_TYPES})
        except httpx.HTTPError as error:
            raise RegistryUnavailable(f"The registry {self.host} does not answer.") from error

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code in (401, 403):
            raise RegistryUnavailable(self._auth.refused_message(response.status_code))
        if response.status_code >= 400:
            raise RegistryUnavailable(
                f"The registry {self.host} answered {response.status_code} for {what}."
            )


class RegistryReleases:
    """Build's ReleaseRegistry port: a service's released tags and their revisions."""

    def __init__(self, access: RegistryAccess | None = None) -> None:
        self._access = access or RegistryAccess()

    def tags(self, image: str) -> list[str]:
        """The image's tags (empty if the repository does not exist yet)."""
        host, repository = _split(image, "it cannot be released")
        registry = Registry(host, self._access)
        try:
            return registry.tags(repository)
        finally:
            registry.close()

    def revision(self, image: str, tag: str) -> str | None:
        """The revision label of `image:tag`, read from its config blob."""
        host, repository = _split(image, "it cannot be released")
        registry = Registry(host, self._access)
        try:
            return registry.revision(repository, tag)
        finally:
            registry.close()


class RegistryImages:
    """Deploy's ImageIndex port over the registries the images name (one client per
    registry, kept, so its connections and tokens are reused)."""

    def __init__(self, access: RegistryAccess | None = None) -> None:
        self._access = access or RegistryAccess()
        self._registries: dict[str, Registry] = {}
        self._guard = threading.Lock()

    def digest(self, image: str, version: str) -> str | None:
        """The digest of `image:version` in its registry, None when the tag is missing;
        UsageError when `image` names no registry host."""
        host, repository = _split(image, "opsloop cannot look up its versions")
        with self._guard:
            registry = self._registries.get(host)
            if registry is None:
                registry = self._registries[host] = Registry(host, self._access)
        return registry.digest(repository, version)

    def close(self) -> None:
        """Close the registries' connections."""
        with self._guard:
            registries, self._registries = list(self._registries.values()), {}
        for registry in registries:
            registry.close()


def _split(image: str, consequence: str) -> tuple[str, str]:
    try:
        return split_image(image)
    except ValueError as error:
        raise UsageError(
            f"The image `{image}` in opsloop.yml names no registry host, so {consequence}: "
            f"give it as `registry-host[:port]/{image}` (e.g. `127.0.0.1:5000/{image}`)."
        ) from error


def _host_and_port(host: str) -> tuple[str, str]:
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest.removeprefix(":")
    name, _, port = host.partition(":")
    return name, port

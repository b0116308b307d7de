"""The image registry's HTTP API (Docker Registry v2 / OCI distribution): which tags exist
and what digest a tag points at."""

from __future__ import annotations

import httpx

from bot.core.errors import RegistryUnavailable
from bot.core.naming import OCI_REVISION

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)


def split_image(image: str) -> tuple[str, str]:
    """`127.0.0.1:5000/team/web` is registry `127.0.0.1:5000` and repository `team/web`."""
    host, _, repository = image.partition("/")
    if not repository or not ("." in host or ":" in host or host == "localhost"):
        raise ValueError(f"{image} does not name a registry host")
    return host, repository


class Registry:
    """One registry, spoken to over HTTP (loopback registries) or HTTPS (the rest)."""

    def __init__(self, host: str, timeout: float = 10.0) -> None:
        scheme = "http" if host.startswith(("127.", "localhost")) else "https"
        self._base = f"{scheme}://{host}/v2/"
        self._http = httpx.Client(timeout=timeout, trust_env=False)
        self.host = host

    def tags(self, repository: str) -> list[str]:
        """The repository's tags; empty when the repository does not exist yet."""
        response = self._get(f"{repository}/tags/list")
        if response.status_code == 404:
            return []
        self._check(response, repository)
        return list(response.json().get("tags") or [])

    def digest(self, repository: str, tag: str) -> str | None:
        """The manifest digest `tag` points at, or None when there is no such tag."""
        response = self._request("HEAD", f"{repository}/manifests/{tag}")
        if response.status_code == 404:
            return None
        self._check(response, f"{repository}:{tag}")
        digest: str | None = response.headers.get("Docker-Content-Digest")
        return digest

    def revision(self, repository: str, tag: str) -> str | None:
        """The org.opencontainers.image.revision label of `repository:tag`, read from its
        config blob; None when the tag, its config or the label is missing or unreadable."""
        try:
            manifest = self._get(f"{repository}/manifests/{tag}")
            config = (manifest.json().get("config") or {}).get("digest")
            if manifest.status_code != 200 or not config:
                return None
            blob = self._get(f"{repository}/blobs/{config}")
            labels = (blob.json().get("config") or {}).get("Labels") or {}
        except (RegistryUnavailable, ValueError):
            return None
        revision = labels.get(OCI_REVISION)
        return revision if isinstance(revision, str) else None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _get(self, path: str) -> httpx.Response:
        return self._request("GET", path)

    def _request(self, method: str, path: str) -> httpx.Response:
        try:
            return self._http.request(method, self._base + path, headers={"Accept": MANIFEST_TYPES})
        except httpx.HTTPError as error:
            raise RegistryUnavailable(f"The registry {self.host} does not answer.") from error

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code >= 400:
            raise RegistryUnavailable(
                f"The registry {self.host} answered {response.status_code} for {what}."
            )

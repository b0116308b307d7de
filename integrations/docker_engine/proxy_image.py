"""The reverse proxy's image: Caddy from the machine opsloop runs on (Debian's caddy
package), copied with the shared libraries it links into an image FROM scratch, built once
per engine and namespace and labelled as this installation's.

An engine that should run the official image instead is given its reference
(`DockerDeployments(proxy_image=...)`); nothing is built then.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import tarfile
from pathlib import Path, PurePosixPath

import docker
from docker.errors import ImageNotFound

from bot.core.errors import IntegrationError
from bot.core.naming import LABEL_NAMESPACE, LABEL_ROLE, ROLE_PROXY

CADDY = "/usr/bin/caddy"
"""Where the binary sits, on this machine and inside the image (as in the official one)."""
_LINKED = re.compile(r"(/\S+) \(0x[0-9a-f]+\)")

NO_CADDY = (
    "opsloop puts a Caddy reverse proxy in front of published Swarm services, and this "
    "machine has no `caddy` binary to build its image from: install Debian's `caddy` "
    "package (`apt-get install caddy`)."
)


def caddy_available(binary: str = CADDY) -> None:
    """IntegrationError saying how to get Caddy when this machine has none to copy."""
    if shutil.which(binary) is None:
        raise IntegrationError(NO_CADDY)


def proxy_image(client: docker.DockerClient, namespace: str, binary: str = CADDY) -> str:
    """The local image's reference, built now when the engine lacks it. IntegrationError
    when the machine has no Caddy to copy."""
    found = shutil.which(binary)
    if found is None:
        raise IntegrationError(NO_CADDY)
    path = Path(found).resolve()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    reference = f"opsloop-{namespace}-proxy:caddy-{digest}"
    try:
        client.images.get(reference)
    except ImageNotFound:
        context = _context(path)
        labels = {LABEL_NAMESPACE: namespace, LABEL_ROLE: ROLE_PROXY}
        client.images.build(
            fileobj=context, custom_context=True, tag=reference, labels=labels, rm=True
        )
    return reference


def _libraries(binary: Path) -> list[Path]:
    """The shared objects `binary` loads, as the dynamic loader resolves them."""
    listed = subprocess.run(
        ["ldd", str(binary)], capture_output=True, text=True, check=False, timeout=30
    )
    return [Path(match) for match in _LINKED.findall(listed.stdout)]


def _context(binary: Path) -> io.BytesIO:
    """A build context (a tar) holding the Dockerfile and the root filesystem."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add(tar, "Dockerfile", b"FROM scratch\nCOPY rootfs/ /\n", 0o644)
        _add(tar, f"rootfs{CADDY}", binary.read_bytes(), 0o755)
        for library in _libraries(binary):
            # Copied under the name the loader asks for, whatever symlink it resolves to.
            inside = PurePosixPath("rootfs") / PurePosixPath(library).relative_to("/")
            _add(tar, str(inside), library.resolve().read_bytes(), 0o755)
    buffer.seek(0)
    return buffer


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))

"""Tiny test images built FROM scratch around a static busybox.

No image can be pulled on the test machines, so every test image starts from ``scratch``
with ``/bin/busybox`` copied in and its applets installed as ``/bin/<applet>`` symlinks,
which gives a shell (``/bin/sh``), ``httpd``, ``wget`` and the usual tools.

Typical use::

    context = write_busybox_context(
        tmp_path / "svc",
        busybox_path,
        {"www/index.html": "hello"},
        HTTPD_DOCKERFILE_TAIL,
    )
    image = build_image(docker_client, context, "opsloop-test/svc:1")
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from docker import DockerClient
from docker.errors import BuildError
from docker.models.images import Image

DOCKERFILE_HEAD = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
"""

# Label put on images built by build_image(), so leftovers are easy to find and remove.
TEST_LABEL = "opsloop.test"

# Dockerfile lines for a service serving the context's www/ folder on port 8080.
HTTPD_DOCKERFILE_TAIL = """\
COPY www /www
EXPOSE 8080
CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
"""

_RESERVED = {"Dockerfile", "busybox"}
_PT_INTERP = 3


def write_busybox_context(
    context_dir: Path,
    busybox_path: Path,
    extra_files: Mapping[str, str | bytes] | None = None,
    dockerfile_tail: str = "",
) -> Path:
    """Write a build context for a busybox image into ``context_dir`` and return it.

    ``extra_files`` maps relative POSIX paths to contents (``str`` is written as UTF-8);
    files whose content starts with ``#!`` are made executable. ``dockerfile_tail`` is
    appended after the busybox lines of the Dockerfile (``FROM scratch``, ``COPY busybox``,
    ``RUN busybox --install``).
    """
    context_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(busybox_path, context_dir / "busybox")
    (context_dir / "busybox").chmod(0o755)

    for name, content in (extra_files or {}).items():
        target = context_dir / _safe_relative(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        target.write_bytes(data)
        if data.startswith(b"#!"):
            target.chmod(0o755)

    tail = dockerfile_tail
    if tail and not tail.endswith("\n"):
        tail += "\n"
    (context_dir / "Dockerfile").write_text(DOCKERFILE_HEAD + tail)
    return context_dir


def build_image(
    client: DockerClient,
    context_dir: Path,
    tag: str,
    labels: Mapping[str, str] | None = None,
) -> Image:
    """Build ``context_dir`` as ``tag`` through the Docker API and return the image.

    The image carries the :data:`TEST_LABEL` label. A failed build raises
    :class:`docker.errors.BuildError` whose message includes the build output.
    """
    all_labels = {TEST_LABEL: "1", **(labels or {})}
    try:
        image, _logs = client.images.build(
            path=str(context_dir), tag=tag, labels=all_labels, rm=True, forcerm=True
        )
    except BuildError as exc:
        log = list(exc.build_log)
        output = "".join(str(chunk.get("stream", chunk)) for chunk in log)
        raise BuildError(f"{exc.msg}\n--- build output ---\n{output}", iter(log)) from exc
    return image


def is_static_elf(path: Path) -> bool:
    """True when ``path`` is an ELF executable with no program interpreter (static)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        return False
    endian = "<" if data[5] == 1 else ">"
    if data[4] == 2:  # 64-bit
        (phoff,) = struct.unpack_from(endian + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x36)
    else:
        (phoff,) = struct.unpack_from(endian + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x2A)
    for index in range(phnum):
        (p_type,) = struct.unpack_from(endian + "I", data, phoff + index * phentsize)
        if p_type == _PT_INTERP:
            return False
    return True


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"extra file path must be relative and inside the context: {name!r}")
    if str(path) in _RESERVED:
        raise ValueError(f"{name!r} is written by write_busybox_context itself")
    return path

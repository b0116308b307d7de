"""Where one sandbox state lives, and what makes it its own.

Everything `opsloop sandbox` keeps is under ``.opsloop/sandbox`` (relative to where it
runs): the sample repositories, the store, build folders and job logs, and the state's
``namespace``, a name made on first start. The sample's images are pushed under that
namespace (``127.0.0.1:5000/<namespace>/web``), so a sandbox started again from a clean
state never finds a previous walk's releases, and `opsloop sandbox --reset` knows exactly
which containers, services and registry tags are its own.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from bot.config import Config, ServiceConfig

HOME = Path(".opsloop") / "sandbox"
NAMESPACE_FILE = "namespace"
NAMESPACE_RE = re.compile(r"sandbox-[0-9a-f]{8}")


def read_namespace(home: Path = HOME) -> str | None:
    """This sandbox state's namespace, or None when it has none (yet)."""
    try:
        name = (home / NAMESPACE_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return name if NAMESPACE_RE.fullmatch(name) else None


def ensure_namespace(home: Path = HOME) -> str:
    """The state's namespace, made ("sandbox-1a2b3c4d") when the state has none."""
    found = read_namespace(home)
    if found is not None:
        return found
    name = f"sandbox-{secrets.token_hex(4)}"
    home.mkdir(parents=True, exist_ok=True)
    (home / NAMESPACE_FILE).write_text(name + "\n")
    return name


def in_namespace(config: Config, namespace: str) -> Config:
    """``config`` with every service's image moved under ``namespace`` in its registry
    (``127.0.0.1:5000/web`` becomes ``127.0.0.1:5000/<namespace>/web``) and ``namespace``
    as its installation's name on the engine, so that what the walk deploys (containers,
    proxies, networks) carries the state's name and ``--reset`` finds all of it."""
    services: Mapping[str, ServiceConfig] = {
        name: service.model_copy(update={"image": _namespaced(service.image, namespace)})
        for name, service in config.services.items()
    }
    docker = config.docker.model_copy(update={"namespace": namespace})
    return config.model_copy(update={"services": services, "docker": docker})


def _namespaced(image: str, namespace: str) -> str:
    host, _, path = image.partition("/")
    return f"{host}/{namespace}/{path}"


def images(config: Config) -> list[str]:
    """The image repositories of ``config``'s services."""
    return [service.image for service in config.services.values()]

"""How opsloop names and labels what it creates on the engine, so that every stage (deploy,
status, changes, monitor) finds the same things, and so that several opsloop installations
can share one engine: each has a namespace, carried in every name and label it creates,
and none touches what carries another one's namespace."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import PurePath

LABEL_NAMESPACE = "opsloop.namespace"
LABEL_SERVICE = "opsloop.service"
LABEL_ENV = "opsloop.env"
LABEL_VERSION = "opsloop.version"
LABEL_BUILD_ID = "opsloop.build-id"
LABEL_DEPLOY_ID = "opsloop.deploy-id"
LABEL_ROLE = "opsloop.role"
ROLE_PROXY = "proxy"
"""opsloop.role of the reverse proxy in front of a published Swarm deployment."""
ROLE_NETWORK = "network"
"""opsloop.role of the network a proxied deployment's tasks and its proxy share."""
OCI_REVISION = "org.opencontainers.image.revision"
OCI_SOURCE = "org.opencontainers.image.source"
OCI_CREATED = "org.opencontainers.image.created"

NAMESPACE_MAX = 24
_NOT_NAME = re.compile(r"[^a-z0-9]+")


def deployment_name(namespace: str, service: str, env: str) -> str:
    """The container or Swarm service that runs `service` in `env` for the installation
    `namespace`: opsloop-team1-web-prod."""
    return f"opsloop-{namespace}-{service}-{env}"


def proxy_name(namespace: str, service: str, env: str) -> str:
    """The reverse proxy container publishing that deployment's port:
    opsloop-team1-web-prod-proxy."""
    return f"{deployment_name(namespace, service, env)}-proxy"


def network_name(namespace: str, service: str, env: str) -> str:
    """The network a proxied deployment's tasks sit on, with its proxy:
    opsloop-team1-web-prod-net."""
    return f"{deployment_name(namespace, service, env)}-net"


def legacy_deployment_name(service: str, env: str) -> str:
    """The name deployments had before namespaces (opsloop-web-prod); an installation takes
    such a deployment over when it carries no namespace label (see the README)."""
    return f"opsloop-{service}-{env}"


def default_namespace(config_path: PurePath) -> str:
    """The namespace of an installation that sets none: the name of the folder holding its
    opsloop.yml (made a valid name) and a short hash of the file's absolute path, so two
    checkouts with the same folder name still differ: `ops-3f9a1c`."""
    folder = _NOT_NAME.sub("-", config_path.parent.name.lower()).strip("-")
    if not folder or not folder[0].isalpha():
        folder = f"o{folder}" if folder else "opsloop"
    digest = hashlib.sha256(str(config_path).encode()).hexdigest()[:6]
    return f"{folder[: NAMESPACE_MAX - 7].rstrip('-')}-{digest}"


def foreign_namespace(labels: Mapping[str, str] | None, namespace: str) -> str | None:
    """The other installation's namespace when `labels` carry one that is not `namespace`;
    None when the thing is this installation's, or carries no namespace."""
    found = (labels or {}).get(LABEL_NAMESPACE)
    return found if found and found != namespace else None


def not_ours(name: str, other: str, namespace: str) -> str:
    """What to tell a user about a deployment another installation owns."""
    return (
        f"`{name}` on this Docker engine belongs to another opsloop installation (namespace "
        f"`{other}`; this one is `{namespace}`), so opsloop leaves it alone."
    )

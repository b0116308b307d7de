"""How opsloop names and labels what it creates on the engine, so that every stage (deploy,
status, changes, monitor) finds the same things."""

from __future__ import annotations

LABEL_SERVICE = "opsloop.service"
LABEL_ENV = "opsloop.env"
LABEL_VERSION = "opsloop.version"
LABEL_BUILD_ID = "opsloop.build-id"
LABEL_DEPLOY_ID = "opsloop.deploy-id"
OCI_REVISION = "org.opencontainers.image.revision"
OCI_SOURCE = "org.opencontainers.image.source"
OCI_CREATED = "org.opencontainers.image.created"


def deployment_name(service: str, env: str) -> str:
    """The container or Swarm service that runs `service` in `env`: opsloop-web-prod."""
    return f"opsloop-{service}-{env}"

"""The proxy adapter leaves nothing half made and removes nothing another installation owns.

An engine failure at the wrong moment (while the proxy's config is written) or a network name
two namespaces share cannot be arranged on a real engine on demand, so these run against a
small stand-in for docker-py's client that records what was removed."""

from __future__ import annotations

from typing import Any

import pytest
from docker.errors import APIError, NotFound

from bot.core.deploy.model import Target
from bot.core.naming import LABEL_NAMESPACE, network_name
from integrations.docker_engine.ownership import ForeignDeployment
from integrations.docker_engine.proxy import DeploymentProxy

TARGET = Target("web", "prod", "r/web", "swarm", 8000, "/health", 18080, 2)


class Container:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put_archive(self, path: str, data: bytes) -> bool:
        raise APIError("the engine went away while the config was written")

    def start(self) -> None:
        self._engine.started = True

    def remove(self, force: bool = False) -> None:
        self._engine.removed.append("proxy")


class Network:
    def __init__(self, engine: Engine, name: str, namespace: str) -> None:
        self._engine, self.name = engine, name
        self.attrs = {"Labels": {LABEL_NAMESPACE: namespace}}

    def remove(self) -> None:
        self._engine.removed.append(self.name)


class Engine:
    """Just the calls the proxy adapter makes, on an engine with no proxy yet."""

    def __init__(self, networks: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
        self.removed: list[str] = []
        self.started = False
        self.containers = self
        self.networks = self
        self._networks = [Network(self, name, ns) for name, ns in networks]

    def get(self, name: str) -> Any:
        raise NotFound(f"no container {name}")

    def create(self, *args: Any, **kwargs: Any) -> Container:
        return Container(self)

    def list(self, names: list[str]) -> list[Network]:
        return [n for n in self._networks if n.name in names]


def test_a_config_that_cannot_be_written_leaves_no_proxy_behind() -> None:
    engine = Engine()
    proxy = DeploymentProxy(engine, "teama", TARGET, image=lambda: "opsloop-teama-proxy:caddy")  # type: ignore[arg-type]
    with pytest.raises(APIError):
        proxy.ensure(["10.0.0.5:8000"])
    assert engine.removed == ["proxy"] and engine.started is False


def test_a_network_of_the_same_name_in_another_namespace_is_left_alone() -> None:
    name = network_name("teama", "web", "prod")
    engine = Engine(networks=[(name, "someone-else")])
    proxy = DeploymentProxy(engine, "teama", TARGET)  # type: ignore[arg-type]
    with pytest.raises(ForeignDeployment):
        proxy.remove()
    assert engine.removed == []

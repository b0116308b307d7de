"""The reverse proxy in front of a published deployment (README, Design: zero-downtime
deploys).

One Caddy container per deployment, named proxy_name(...) and labelled with the namespace,
service, env and opsloop.role=proxy, publishes the deployment's host port (its address
honoured) and forwards to the service's tasks over an attachable overlay network of their
own (network_name(...)), or to a container target's one container over a bridge network
of that name; the tasks or the container publish no host port.

The upstreams are the addresses of the tasks Swarm reports running (healthy, since the
service has a healthcheck) and wants running, or of the container a rollout made healthy
(integrations.docker_engine.proxied_container). They are written to the proxy's config file
and loaded with `caddy reload` run inside the proxy container, against Caddy's admin API on
the container's own loopback: the admin API is never published, not even on the host's
loopback, and this works the same over every kind of engine connection. A reload keeps
Caddy's listener and lets requests in flight finish on the old upstreams.

Swarm deactivates a task's service binding and waits two seconds before it stops the task;
opsloop follows the tasks every POLL seconds while it changes the service, so an old task
leaves the upstreams before it stops (it drains), and a new one joins only once healthy.
The config file lives in the proxy container, so the proxy keeps serving across bot
restarts; it is derived again from the engine at every change.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
import threading
from collections.abc import Callable, Sequence
from typing import Any

import docker
from docker.errors import APIError, NotFound

from bot.core.deploy.model import Target
from bot.core.errors import IntegrationError
from bot.core.naming import (
    LABEL_ENV,
    LABEL_NAMESPACE,
    LABEL_ROLE,
    LABEL_SERVICE,
    ROLE_NETWORK,
    ROLE_PROXY,
    network_name,
    proxy_name,
)
from integrations.docker_engine.ownership import refuse_foreign
from integrations.docker_engine.proxy_config import (
    ADMIN,
    CONFIG_FILE,
    LISTEN,
    caddy_config,
    task_upstreams,
    upstreams_in,
)
from integrations.docker_engine.proxy_image import CADDY

__all__ = ["ADMIN", "CONFIG_FILE", "LISTEN", "DeploymentProxy", "ProxyDown", "caddy_config"]

log = logging.getLogger(__name__)
NETWORK_ATTEMPTS = 10


class ProxyDown(IntegrationError):
    """The deployment's proxy exists but does not run; it is reported, never replaced."""


class DeploymentProxy:
    """The proxy and network of one deployment on the engine `client` reaches."""

    def __init__(
        self,
        client: docker.DockerClient,
        namespace: str,
        target: Target,
        image: Callable[[], str] | None = None,
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._target = target
        self._image = image
        self.name = proxy_name(namespace, target.service, target.env)
        self.network = network_name(namespace, target.service, target.env)
        self._loaded: list[str] | None = None

    @property
    def labels(self) -> dict[str, str]:
        """The labels the proxy and its network carry (plus opsloop.role)."""
        t = self._target
        return {LABEL_NAMESPACE: self._namespace, LABEL_SERVICE: t.service, LABEL_ENV: t.env}

    def container(self) -> Any | None:
        """The proxy container, None when there is none; ForeignDeployment when its name
        is another installation's."""
        try:
            found = self._client.containers.get(self.name)
        except NotFound:
            return None
        refuse_foreign(self.name, found.labels, self._namespace)
        return found

    def check(self) -> None:
        """ProxyDown when the proxy exists and does not run (nothing is changed)."""
        found = self.container()
        if found is not None and found.status != "running":
            state = found.attrs.get("State") or {}
            raise ProxyDown(
                f"The proxy `{self.name}` in front of `{self._target.service}` in "
                f"`{self._target.env}` is {found.status} (exit code {state.get('ExitCode')}, "
                f"{state.get('Error') or 'no error given'}), so its port does not answer. "
                f"opsloop does not replace it on its own: `docker start {self.name}` brings "
                "it back (`docker logs` says why it stopped)."
            )

    def network_id(self) -> tuple[str, bool]:
        """The deployment's network's id, and whether it was created now."""
        for network in self._client.networks.list(names=[self.network]):
            if network.name == self.network:
                refuse_foreign(self.network, network.attrs.get("Labels"), self._namespace)
                return str(network.id), False
        labels = {**self.labels, LABEL_ROLE: ROLE_NETWORK}
        # A container target needs no Swarm: its network is a plain bridge on its engine.
        swarm = self._target.kind == "swarm"
        created = self._client.networks.create(
            self.network, driver="overlay" if swarm else "bridge", attachable=swarm,
            labels=labels,
        )  # fmt: skip
        return str(created.id), True

    def ensure(self, upstreams: Sequence[str]) -> bool:
        """Start the proxy on the published port when there is none; True when it was
        started now. IntegrationError, with the proxy removed again, when the engine cannot
        bind the port (something else holds it)."""
        if self.container() is not None:
            self.check()
            return False
        self.start(self.create(upstreams))
        return True

    def create(self, upstreams: Sequence[str]) -> Any:
        """Create the proxy (not started) with its config pointing at `upstreams`; a
        proxy whose config could not be written is removed again."""
        if self._image is None:
            raise IntegrationError(f"The proxy `{self.name}` is missing.")
        t = self._target
        binding: Any = (t.publish_host, t.publish) if t.publish_host else t.publish
        create: Any = self._client.containers.create
        created = create(
            self._image(), command=[CADDY, "run", "--config", CONFIG_FILE],
            name=self.name, labels={**self.labels, LABEL_ROLE: ROLE_PROXY},
            environment={"XDG_CONFIG_HOME": "/config", "XDG_DATA_HOME": "/data"},
            ports={f"{LISTEN}/tcp": binding}, network=self.network,
            restart_policy={"Name": "unless-stopped"},
        )  # fmt: skip
        try:
            self._write(created, upstreams)
        except Exception:
            # A proxy left created without its config would be reported down on every later
            # deploy, with a hint (docker start) that could not help.
            created.remove(force=True)
            raise
        self._loaded = sorted(upstreams)
        return created

    def start(self, created: Any) -> None:
        """Start a proxy create() made; IntegrationError, with the proxy removed, when the
        engine cannot bind its port (something else holds it)."""
        t = self._target
        try:
            created.start()
        except APIError as error:
            created.remove(force=True)
            self._loaded = None
            where = f"{t.publish_host}:{t.publish}" if t.publish_host else f"port {t.publish}"
            raise IntegrationError(
                f"The proxy for `{t.service}` in `{t.env}` cannot publish {where} on the "
                f"host: {error.explanation or error}. Something else holds it: free it, or "
                "give `publish` another port. Nothing was changed."
            ) from error

    def point_at(self, upstreams: Sequence[str]) -> bool:
        """Send traffic to exactly `upstreams` (`ip:port`); True when that changed them.
        A no-op when there is no proxy; ProxyDown when it does not run."""
        wanted = sorted(upstreams)
        if wanted == self._loaded:
            return False
        found = self.container()
        if found is None:
            return False
        self.check()
        self._write(found, wanted)
        code, output = found.exec_run([CADDY, "reload", "--config", CONFIG_FILE,
                                       "--address", ADMIN])  # fmt: skip
        if code != 0:
            said = output.decode("utf-8", "replace").strip()[-300:]
            raise IntegrationError(f"The proxy `{self.name}` refused its new upstreams: {said}")
        self._loaded = wanted
        return True

    def follow(self, service: Any) -> bool:
        """Point the proxy at the service's running tasks now; True when that changed. A
        no-op when there is no proxy (nothing is created here)."""
        if self.container() is None:
            return False
        network = next(
            (n for n in self._client.networks.list(names=[self.network]) if n.name == self.network),
            None,
        )
        if network is None:
            return False
        return self.point_at(task_upstreams(service.tasks(), str(network.id), self._target.port))

    def follow_container(self, container: Any) -> bool:
        """Point the proxy at `container` alone (a container target's one copy); True
        when that changed the upstreams. A container that is not on the deployment's
        network (one that publishes its own port) changes nothing."""
        address = self.address_of(container)
        return self.point_at([address]) if address else False

    def address_of(self, container: Any) -> str | None:
        """`ip:port` of `container` on the deployment's network, None when it is not on it
        (or not running)."""
        container.reload()
        networks = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
        found = str((networks.get(self.network) or {}).get("IPAddress") or "")
        return f"{found}:{self._target.port}" if found else None

    def upstreams(self) -> list[str] | None:
        """The upstreams the proxy's config file holds now (what it serves after its
        last reload), None when there is no proxy."""
        found = self.container()
        if found is None:
            return None
        stream, _ = found.get_archive(CONFIG_FILE)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(CONFIG_FILE.rpartition("/")[2])
            config = json.load(member) if member is not None else {}
        return upstreams_in(config)

    def remove(self, network: bool = True) -> None:
        """Remove the proxy (and the network, when asked), if there. A network that the
        tasks of a service just removed still hold is tried again for a few seconds, then
        left (logged): it holds nothing and the next deploy reuses it."""
        found = self.container()
        if found is not None:
            found.remove(force=True)
        if not network:
            return
        for net in self._client.networks.list(names=[self.network]):
            if net.name != self.network:
                continue
            # Names of two namespaces can meet ("a-b" + "c", "a" + "b-c"): the labels say whose.
            refuse_foreign(self.network, net.attrs.get("Labels"), self._namespace)
            for attempt in range(NETWORK_ATTEMPTS):
                try:
                    net.remove()
                    break
                except APIError as error:
                    if attempt == NETWORK_ATTEMPTS - 1:
                        log.warning("left the network %s: %s", self.network, error)
                    else:
                        threading.Event().wait(0.5)

    def _write(self, container: Any, upstreams: Sequence[str]) -> None:
        data = json.dumps(caddy_config(upstreams), indent=1).encode()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            folder = tarfile.TarInfo(CONFIG_FILE.rpartition("/")[0].lstrip("/"))
            folder.type, folder.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(folder)
            info = tarfile.TarInfo(CONFIG_FILE.lstrip("/"))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        container.put_archive("/", buffer.getvalue())

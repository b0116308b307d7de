"""A rollout to one container behind the deployment's reverse proxy (`publish_mode: proxy`,
the default for a published container; README, Design: zero-downtime deploys).

The container publishes no host port: it sits on the deployment's own bridge network, which
the proxy (integrations.docker_engine.proxy) joins, and the proxy publishes the port. A
rollout:

1. starts the new version as `<name>-next` on that network, with the engine's healthcheck
   of the health path, and waits until the engine reports it healthy (one that never is
   is removed: the old one never stopped serving);
2. sets the old container aside (`<name>-old`: its address, which the proxy dials, does not
   change) and gives the new one the deployment's name;
3. points the proxy at the new container (a Caddy reload: requests in flight finish on the
   old one);
4. drains: waits DRAIN seconds, then stops and removes the old container.

A container that publishes the port itself (`publish_mode: host`, or deployed before
proxies) moves behind the proxy on its next proxied deploy: the new container is healthy
first and the proxy is created pointing at it; then the old container is stopped and the
proxy started on the port it let go. A host port cannot be held by two containers, so the
port answers nothing between the two (README: about half a second here), once.

settle_proxied() brings a rollout cut short by a crash to an end; it points the proxy at the
container it keeps before it removes any other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import docker

from bot.core.deploy.model import DeployState, Outcome
from bot.core.errors import IntegrationError, OpsloopError
from integrations.docker_engine.containers import ASIDE, CANDIDATE, get_container
from integrations.docker_engine.ownership import container_of, refuse_foreign
from integrations.docker_engine.proxy import DeploymentProxy
from integrations.docker_engine.rollout_common import (
    FINAL_ATTEMPTS,
    POLL,
    Rollout,
    engine_healthy,
    health_window,
    healthcheck,
)

DRAIN = 2.0
"""Seconds the old container keeps running after the proxy left it, for requests in flight."""
STOP_TIMEOUT = 5


def publishes_itself(container: Any, port: int) -> bool:
    """Whether `container` binds a host port for `port` itself (not behind a proxy)."""
    bindings = ((container.attrs.get("HostConfig") or {}).get("PortBindings") or {}).get(
        f"{port}/tcp"
    )
    return bool(bindings)


def last_health_check(container: Any) -> str:
    """What the engine's last healthcheck of `container` said, as a clause (" (the engine's
    last check said: …)"), or "" when there is none: it tells a missing /bin/busybox or a
    container that exited from a health path that answers an error."""
    container.reload()
    state = container.attrs.get("State") or {}
    if state.get("Status") in ("exited", "dead"):
        return f" (the container exited with code {state.get('ExitCode')})"
    checks = (state.get("Health") or {}).get("Log") or []
    output = str(checks[-1].get("Output") or "").strip() if checks else ""
    return f" (the engine's last check said: {output[-200:]})" if output else ""


def settle_proxied(
    client: docker.DockerClient,
    name: str,
    proxy: DeploymentProxy,
    namespace: str,
    healthy: Callable[[Any], bool],
) -> str:
    """Bring a proxied rollout cut short to an end and say what was done ("" when nothing
    was). Afterwards at most the container `name` exists, running, and the proxy (when it
    runs) points at it. Another installation's container is never touched.

    - a candidate the proxy serves (a move behind the proxy cut short): it takes the name;
    - any other candidate: removed; a proxy created but never started: removed;
    - the old container set aside: the new one stays if it runs and is healthy, else the
      old one is put back; the proxy is pointed at the one kept before the other goes."""
    for suffix in ("", CANDIDATE, ASIDE):
        found = get_container(client, name + suffix)
        if found is not None:
            refuse_foreign(name + suffix, found.labels, namespace)
    done = []
    box = proxy.container()
    if box is not None and box.status == "created":
        box.remove(force=True)
        box = None
        done.append("removed a proxy that was never started")
    serving = set(proxy.upstreams() or []) if box is not None and box.status == "running" else set()
    candidate = get_container(client, name + CANDIDATE)
    current, aside = get_container(client, name), get_container(client, name + ASIDE)
    if candidate is not None and current is None and proxy.address_of(candidate) in serving:
        candidate.rename(name)
        current, candidate = candidate, None
        done.append("the candidate the proxy serves took the deployment's name")
    if candidate is not None:
        candidate.remove(force=True)
        done.append("removed a leftover candidate")
    follow = box is not None and box.status == "running"
    done += _keep_one(name, proxy if follow else None, current, aside, healthy)
    kept = get_container(client, name)
    if follow and kept is not None:
        proxy.follow_container(kept)
    return "; ".join(done)


def _keep_one(
    name: str,
    proxy: DeploymentProxy | None,
    current: Any,
    aside: Any,
    healthy: Callable[[Any], bool],
) -> list[str]:
    """Keep the new container or put the old one back (settle_proxied's last step)."""
    done = []
    if aside is None:
        if current is not None and current.status != "running":
            current.start()
            done.append("started the container again")
    elif current is not None and current.status == "running" and healthy(current):
        if proxy is not None:
            proxy.follow_container(current)
        aside.remove(force=True)
        done.append("kept the new container, removed the old one set aside")
    else:
        if aside.status != "running":
            aside.start()
        if proxy is not None:
            proxy.follow_container(aside)
        if current is not None:
            current.remove(force=True)
        aside.rename(name)
        done.append("put the old container back")
    return done


class ProxiedContainerRollout(Rollout):
    """One rollout of `image_ref` to the target's container behind its proxy (see the
    module's docstring)."""

    def run(self) -> Outcome:
        """Roll out; an Outcome for a failed rollout, engine errors raised."""
        t = self.t
        # Another installation's container under this name is refused before anything starts.
        container_of(self.client, self.e.namespace, t.service, t.env)
        self.say(f"Pulling `{self.image_ref}`…")
        repository, _, tag = self.image_ref.rpartition(":")
        self.client.images.pull(repository, tag=tag)
        proxy = self.e.proxy(t)
        cleaned = settle_proxied(self.client, self.name, proxy, self.e.namespace, self.healthy)
        if cleaned:
            self.say(f"An earlier deploy was cut short: {cleaned}.")
        proxy.check()
        _, made_network = proxy.network_id()
        old = container_of(self.client, self.e.namespace, t.service, t.env)
        own_port = old is not None and publishes_itself(old, t.port)
        made_proxy = False
        if not own_port:
            serving = proxy.address_of(old) if old is not None else None
            try:
                made_proxy = proxy.ensure([serving] if serving else [])
            except OpsloopError:
                if made_network:
                    proxy.remove(network=True)
                raise
            if old is not None and not made_proxy:
                proxy.follow_container(old)  # derived from the engine again
        candidate = self.start_candidate(proxy.network)
        self.say(f"Started the new version beside the old one; waiting for `{t.health}`…")
        if not self.healthy(candidate):
            said = last_health_check(candidate)
            candidate.remove(force=True)
            if made_proxy and old is None:
                proxy.remove(network=made_network)
            return Outcome(
                DeployState.FAILED,
                f"The new version never answered `{t.health}`{said}; the running version "
                "keeps serving.",
            )
        if own_port:
            return self._move_behind_proxy(proxy, old, candidate)
        return self._switch(proxy, old, candidate)

    def healthy(self, container: Any) -> bool:
        """Whether the engine reports `container` healthy within the health window."""
        return engine_healthy(container, self.e.wait, health_window(self.t.probe))

    def start_candidate(self, network: str) -> Any:
        """The new version as `<name>-next` on `network`, with the engine's healthcheck."""
        run: Any = self.client.containers.run
        return run(
            self.image_ref, name=self.name + CANDIDATE, detach=True, labels=self.labels,
            network=network, healthcheck=healthcheck(self.t),
            restart_policy={"Name": "unless-stopped"},
        )  # fmt: skip

    def _switch(self, proxy: DeploymentProxy, old: Any, candidate: Any) -> Outcome:
        if old is not None:
            old.rename(self.name + ASIDE)
        candidate.rename(self.name)
        try:
            proxy.follow_container(candidate)
        except OpsloopError:
            # The proxy still serves the old container: it takes its name back.
            candidate.remove(force=True)
            if old is not None:
                old.rename(self.name)
            raise
        if old is not None:
            self.say("Traffic moved to the new version; draining the old container…")
            threading.Event().wait(DRAIN)
            old.stop(timeout=STOP_TIMEOUT)
            old.remove(force=True)
        return Outcome(
            DeployState.SUCCEEDED,
            "The new version is healthy and serves through the proxy.",
        )

    def _move_behind_proxy(self, proxy: DeploymentProxy, old: Any, candidate: Any) -> Outcome:
        address = proxy.address_of(candidate)
        try:
            created = proxy.create([address] if address else [])
        except OpsloopError:
            candidate.remove(force=True)
            raise
        self.say("Moving the port from the old container to its proxy (a moment, once)…")
        old.rename(self.name + ASIDE)
        old.stop(timeout=STOP_TIMEOUT)
        error = self._start_on_released_port(proxy, created, [address] if address else [])
        if error is not None:
            old.rename(self.name)
            old.start()
            candidate.remove(force=True)
            return Outcome(
                DeployState.ROLLED_BACK,
                f"{error.message} The old container is back on its port.",
            )
        candidate.rename(self.name)
        old.remove(force=True)
        return Outcome(
            DeployState.SUCCEEDED,
            "The new version is healthy and now serves through the deployment's proxy.",
        )

    @staticmethod
    def _start_on_released_port(
        proxy: DeploymentProxy, created: Any, upstreams: list[str]
    ) -> IntegrationError | None:
        # The engine can take a moment to release the port of the container just stopped.
        for attempt in range(FINAL_ATTEMPTS):
            try:
                proxy.start(created if attempt == 0 else proxy.create(upstreams))
                return None
            except IntegrationError as error:
                if attempt == FINAL_ATTEMPTS - 1:
                    return error
                threading.Event().wait(POLL * (attempt + 1))
        return None

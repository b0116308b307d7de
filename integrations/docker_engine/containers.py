"""A rollout to one plain container per service and environment.

The new image is first started as a candidate on an ephemeral loopback port and probed on
its health path. Only a healthy candidate goes on: the old container is stopped (kept,
renamed), the final container starts on the published port and is probed again; if that
fails the old one is started back. A host port cannot move between running containers, so
the window without an answer on the published port is from stopping the old container
until the new one answers its health path (about a second for a small service).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from docker.errors import APIError, NotFound

from bot.core.deploy.model import DeployState, Outcome
from integrations.docker_engine.ownership import container_of, refuse_foreign
from integrations.docker_engine.rollout_common import (
    FINAL_ATTEMPTS,
    POLL,
    Rollout,
    host_port,
)


class ContainerRollout(Rollout):
    """One rollout of `image_ref` to the target's container (see the module's docstring)."""

    def run(self) -> Outcome:
        """Roll out; an Outcome for a failed rollout, engine errors raised."""
        t = self.t
        # Another installation's container under this name is refused before anything starts.
        container_of(self.client, self.e.namespace, t.service, t.env)
        self.say(f"Pulling `{self.image_ref}`…")
        repository, _, tag = self.image_ref.rpartition(":")
        self.client.images.pull(repository, tag=tag)
        candidate = self._start(f"{self.name}-next", None)
        self.say(f"Started a candidate; probing `{t.health}`…")
        try:
            port = host_port(candidate, t.port)
            ok = port is not None and self.e.healthy(port, t.health)
        finally:
            candidate.remove(force=True)
        if not ok:
            return Outcome(
                DeployState.FAILED,
                f"The new version never answered `{t.health}`; the running version keeps serving.",
            )
        old = self._existing()
        if old is not None:
            self.say("Candidate healthy; stopping the old container…")
            old.rename(f"{self.name}-old")
            old.stop(timeout=5)
        restore = old is not None
        try:
            outcome = self._swap_in()
            restore = old is not None and outcome.state is not DeployState.SUCCEEDED
        finally:
            # Once the old container is stopped, it comes back unless the new one answers.
            if restore and old is not None:
                old.rename(self.name)
                old.start()
        if outcome.state is DeployState.SUCCEEDED:
            if old is not None:
                old.remove(force=True)
            return outcome
        if old is not None:
            return Outcome(
                DeployState.ROLLED_BACK, "The new container failed; the old one is back."
            )
        return outcome

    def _swap_in(self) -> Outcome:
        t = self.t
        started: Any = self._start_final()
        final: Any = None if isinstance(started, str) else started
        error = started if isinstance(started, str) else ""
        port = t.publish or (host_port(final, t.port) if final is not None else None)
        if final is not None and port is not None and self.e.healthy(port, t.health, t.probe_host):
            return Outcome(DeployState.SUCCEEDED, "The new version answers its health path.")
        if final is not None:
            final.remove(force=True)
        if error:
            self.say(f"The engine refused the new container: {error}")
        return Outcome(DeployState.FAILED, f"The new container never answered `{t.health}`.")

    def _start_final(self) -> Any:
        # The old container's port can take a moment to be released by the engine.
        for attempt in range(FINAL_ATTEMPTS):
            try:
                return self._start(self.name, self.t.publish)
            except APIError as error:
                if attempt == FINAL_ATTEMPTS - 1:
                    return str(error.explanation or error)
                threading.Event().wait(POLL * (attempt + 1))
        return "no attempt left"

    def _existing(self) -> Any:
        # This installation's container, or one made before namespaces (taken over: the swap
        # renames it, and the new container has this installation's name and labels).
        current = container_of(self.client, self.e.namespace, self.t.service, self.t.env)
        if current is not None:
            return current
        try:
            old = self.client.containers.get(f"{self.name}-old")
        except NotFound:
            return None
        refuse_foreign(f"{self.name}-old", old.labels, self.e.namespace)
        # An earlier deploy was interrupted mid-swap: the old one is the one to keep.
        old.rename(self.name)
        return old

    def _start(self, name: str, publish: int | None) -> Any:
        with contextlib.suppress(NotFound):
            leftover = self.client.containers.get(name)
            refuse_foreign(name, leftover.labels, self.e.namespace)
            leftover.remove(force=True)
        host = self.t.publish_host
        binding: Any = ("127.0.0.1", None)
        if publish is not None:
            binding = (host, publish) if host else publish
        run: Any = self.client.containers.run
        return run(
            self.image_ref, name=name, detach=True, labels=self.labels,
            ports={f"{self.t.port}/tcp": binding},
            restart_policy={"Name": "unless-stopped"} if name == self.name else None,
        )  # fmt: skip

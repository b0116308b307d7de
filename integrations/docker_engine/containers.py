"""A rollout to one plain container per service and environment.

The new image is first started as a candidate on an ephemeral loopback port and probed on
its health path. Only a healthy candidate goes on: the old container is set aside (renamed
`<name>-old`) and stopped, the final container starts on the published port and is probed
again; if that fails the old one is put back. A host port cannot move between running
containers, so the window without an answer on the published port is from stopping the old
container until the new one answers its health path (about a second for a small service).

A swap can be cut anywhere by a crash of the bot. settle_swap() finishes or undoes it from
what is on the engine, and every rollout starts with it, so a leftover (`-next`, `-old`, a
stopped container) never blocks the next deploy or rollback.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import docker
from docker.errors import APIError, NotFound

from bot.core.deploy.model import DeployState, Outcome
from integrations.docker_engine.ownership import container_of, refuse_foreign
from integrations.docker_engine.rollout_common import (
    FINAL_ATTEMPTS,
    POLL,
    Rollout,
    host_port,
)

ASIDE = "-old"
CANDIDATE = "-next"


def settle_swap(
    client: docker.DockerClient, name: str, answers: Callable[[Any], bool], namespace: str
) -> str:
    """Bring a swap cut short to an end, whichever step it stopped at, and say what was done
    ("" when there was nothing to do). `answers(container)` says whether a container
    answers its health path. Afterwards at most the container `name` exists, running.
    A container there carrying another installation's namespace is never touched
    (ForeignDeployment).

    - a candidate left over: removed;
    - the old container set aside (running or stopped) and no new one: put back, started;
    - the old one set aside and a new one: the new one stays if it runs and answers, else
      it is removed and the old one put back;
    - the old one put back but not yet started again: started."""
    done = []
    for suffix in ("", CANDIDATE, ASIDE):
        found = get_container(client, name + suffix)
        if found is not None:
            refuse_foreign(name + suffix, found.labels, namespace)
    candidate = get_container(client, name + CANDIDATE)
    if candidate is not None:
        candidate.remove(force=True)
        done.append("removed a leftover candidate")
    current, aside = get_container(client, name), get_container(client, name + ASIDE)
    if aside is None:
        if current is not None and current.status != "running":
            current.start()
            done.append("started the container again")
        return "; ".join(done)
    if current is not None and current.status == "running" and answers(current):
        aside.remove(force=True)
        done.append("kept the new container, removed the old one set aside")
        return "; ".join(done)
    if current is not None:
        current.remove(force=True)
    aside.rename(name)
    aside.start()
    done.append("put the old container back")
    return "; ".join(done)


def get_container(client: docker.DockerClient, name: str) -> Any:
    """The container `name`, None when there is none."""
    try:
        return client.containers.get(name)
    except NotFound:
        return None


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
        cleaned = settle_swap(self.client, self.name, self.answers, self.e.namespace)
        if cleaned:
            self.say(f"An earlier deploy was cut short: {cleaned}.")
        candidate = self._start(self.name + CANDIDATE, None)
        self.say(f"Started a candidate; probing `{t.health}`…")
        try:
            ok = self.answers(candidate)
        finally:
            candidate.remove(force=True)
        if not ok:
            return Outcome(
                DeployState.FAILED,
                f"The new version never answered `{t.health}`; the running version keeps serving.",
            )
        # This installation's container, or one made before namespaces (taken over: the swap
        # sets it aside, and the new container has this installation's name and labels).
        old = container_of(self.client, self.e.namespace, t.service, t.env)
        if old is not None:
            self.say("Candidate healthy; stopping the old container…")
            old.rename(self.name + ASIDE)
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

    def answers(self, container: Any) -> bool:
        """Whether `container` answers the target's health path on its host port."""
        published = container.name == self.name and self.t.publish is not None
        port = self.t.publish if published else host_port(container, self.t.port)
        host = self.t.probe_host if published else "127.0.0.1"
        return port is not None and self.e.healthy(port, self.t.health, self.t.probe, host)

    def _swap_in(self) -> Outcome:
        t = self.t
        started: Any = self._start_final()
        final: Any = None if isinstance(started, str) else started
        error = started if isinstance(started, str) else ""
        if final is not None and self.answers(final):
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

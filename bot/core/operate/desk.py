"""The Operate stage's rules over its ports: what /status shows, which /scale and /restart
requests are filed (through the deploy desk's requests, so approvals, locks, expiry and
execute-once are the same as a deploy's), the autoscaler's pause switch, and /logs.

Everything here talks to the engine: call it off the router's workers (commands/operate.py
hands it to Background)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.core.deploy.desk import DeployDesk
from bot.core.deploy.model import DeployKind, NewDeploy
from bot.core.errors import Conflict, IntegrationError, UsageError
from bot.core.operate.logs import INLINE_LINES, LogQuery, file_note, inline_reply, render, select
from bot.core.operate.model import AutoscaleStore, FileShare, Fleet, OperateEngine, Placement
from bot.core.operate.views import Seen, paused_reply, status_reply
from bot.core.outbox import Outbox
from bot.core.ports import Notifier
from bot.core.values import Reply, Settle


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asked, where, and where to answer."""

    user: str
    channel: str
    response_url: str
    settle: Settle | None = None
    """Records how the command ended once the request's answer is sent (the audit)."""


class OperateDesk:
    """Status, scale, restart, logs and the autoscaler's switch."""

    def __init__(
        self,
        *,
        fleet: Fleet,
        engine: OperateEngine,
        deploys: DeployDesk,
        autoscale: AutoscaleStore,
        notifier: Notifier,
        outbox: Outbox,
        files: FileShare,
        redact: Callable[[str], str],
    ) -> None:
        self.fleet = fleet
        self._outbox = outbox
        self._engine = engine
        self._deploys = deploys
        self._autoscale = autoscale
        self._notifier = notifier
        self._files = files
        self._redact = redact
        self._clock = deploys.runner.clock

    # -- status ----------------------------------------------------------------------------
    def placements(self, service: str | None, env: str | None) -> list[Placement]:
        """Every placement, or a service's, or one (NotFound / UsageError for unknown ones)."""
        if service is None:
            return sorted(self.fleet.placements.values(), key=lambda p: (p.service, p.env))
        if env is not None:
            return [self.fleet.placement(service, env)]
        return sorted(self.fleet.of_service(service), key=lambda p: p.env)

    def status(self, placements: Sequence[Placement], with_usage: bool) -> Reply:
        """The status view; with CPU and memory when `with_usage` (about a second more)."""
        seen = [self._see(p, with_usage) for p in placements]
        return status_reply(seen, self._clock.now(), usage_pending=not with_usage)

    def _see(self, placement: Placement, with_usage: bool) -> Seen:
        try:
            status = self._engine.status(placement)
            usage = self._engine.usage(placement) if with_usage and status.exists else None
        except IntegrationError as error:
            return Seen(placement, None, problem=error.message)
        last = self._deploys.store.last_succeeded(placement.service, placement.env, 1)
        paused = (
            placement.autoscale is not None
            and self._autoscale.get(placement.service, placement.env).paused
        )
        return Seen(placement, status, usage=usage, last_deploy=last[0] if last else None,
                    autoscale_paused=paused)  # fmt: skip

    # -- scale and restart -----------------------------------------------------------------
    def scale(self, placement: Placement, replicas: int, reason: str, asker: Asker) -> Reply:
        """File a scale request (pausing the autoscaler until `auto on`)."""
        if not placement.swarm:
            raise UsageError(
                f"`{placement.service}` runs in `{placement.env}` as a single container, which "
                f"cannot be scaled. To run several copies, set `target: swarm` and `replicas` "
                f"under services.{placement.service}.deploy.{placement.env} in opsloop.yml."
            )
        if replicas > placement.max_replicas:
            raise UsageError(
                f"{replicas} is above the bound of {placement.max_replicas} replicas for "
                f"`{placement.service}` in `{placement.env}` (services.{placement.service}."
                f"deploy.{placement.env}.max_replicas in opsloop.yml)."
            )
        self._deploys.locks.check(placement.env, asker.user)
        self._engine.placeable(placement, replicas)
        status = self._engine.status(placement)
        if not status.exists:
            raise Conflict(f"Nothing runs for `{placement.service}` in `{placement.env}` yet.")
        if status.desired == replicas:
            return Reply(text=f"`{placement.service}` in `{placement.env}` already runs "
                              f"{replicas} replica(s); nothing to change.")  # fmt: skip
        paused = ""
        if placement.autoscale is not None:
            self._pause(placement, True, asker.user)
            paused = " The autoscaler is paused until `auto on`."
        self._file(DeployKind.SCALE, placement, status.version, asker, reason=reason,
                   replicas=replicas, from_replicas=status.desired)  # fmt: skip
        return Reply(
            text=f":hourglass_flowing_sand: Asking to scale `{placement.service}` in "
            f"`{placement.env}` from {status.desired} to {replicas}.{paused}",
            follows=True,
        )

    def restart(self, placement: Placement, reason: str, asker: Asker) -> Reply:
        """File a rolling restart request."""
        self._deploys.locks.check(placement.env, asker.user)
        status = self._engine.status(placement)
        if not status.exists:
            raise Conflict(f"Nothing runs for `{placement.service}` in `{placement.env}` yet.")
        self._file(DeployKind.RESTART, placement, status.version, asker, reason=reason)
        return Reply(
            text=f":hourglass_flowing_sand: Asking to restart `{placement.service}` in "
            f"`{placement.env}`.",
            follows=True,
        )

    def _file(self, kind: DeployKind, placement: Placement, version: str | None, asker: Asker,
              *, reason: str, replicas: int | None = None,
              from_replicas: int | None = None) -> None:  # fmt: skip
        now = self._clock.now()
        self._deploys.file(
            NewDeploy(
                kind=kind, service=placement.service, env=placement.env, version=version or "",
                from_version=version, image=placement.image, digest="", requester=asker.user,
                channel_id=asker.channel, approvals_needed=0, created_at=now, expires_at=None,
                shipped="", changes=(), replicas=replicas, from_replicas=from_replicas,
                reason=reason,
            ),
            asker.response_url,
            asker.settle,
        )  # fmt: skip

    def autoscale(self, placement: Placement, on: bool, user: str) -> Reply:
        """`auto on` resumes the autoscaler, `auto off` pauses it."""
        if placement.autoscale is None:
            raise UsageError(
                f"`{placement.service}` in `{placement.env}` has no autoscale settings "
                f"(services.{placement.service}.deploy.{placement.env}.autoscale in opsloop.yml)."
            )
        self._pause(placement, not on, user)
        reply = paused_reply(placement, not on, user)
        self._outbox.post(self.fleet.ops_channel, reply)
        return reply

    def _pause(self, placement: Placement, paused: bool, user: str) -> None:
        state = self._autoscale.get(placement.service, placement.env)
        self._autoscale.save(
            replace(state, paused=paused, paused_by=user if paused else None), self._clock.now()
        )

    # -- logs ------------------------------------------------------------------------------
    def logs(self, query: LogQuery, asker: Asker) -> Reply:
        """Up to INLINE_LINES lines in the reply; more as a file in a thread of its own."""
        placement = self.fleet.placement(query.service, query.env)
        batch = self._engine.logs(placement, query.since_seconds, query.tail)
        shown = render(select(batch, query.grep), self._redact)
        if len(shown) <= INLINE_LINES:
            return inline_reply(query, shown, batch.capped)
        note = file_note(query, len(shown), batch.capped)
        posted = self._notifier.post(asker.channel, Reply(text=note, public=True))
        name = f"{query.service}-{query.env}-logs.txt"
        content = ("\n".join(shown) + "\n").encode("utf-8")
        self._files.upload(posted.channel_id, name, content, f"{len(shown)} line(s)", posted.ts)
        return Reply(text=f"{len(shown)} line(s): uploaded as `{name}` in the thread below.")

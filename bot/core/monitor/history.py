"""The Monitor stage's view of the Deploy stage's store: who shipped what, where it was
announced, and whether a deploy is swapping a deployment right now."""

from __future__ import annotations

from bot.core.deploy.model import DeployState, DeployStore
from bot.core.deploy.runner import announcement_key
from bot.core.monitor.model import DeployFacts
from bot.core.outbox import Outbox


class DeployRecords:
    """monitor.ports.DeployHistory over the deploy store, and the outbox the deploy
    announcements went through."""

    def __init__(self, store: DeployStore, outbox: Outbox | None = None) -> None:
        self._store = store
        self._outbox = outbox

    def last_deploy(self, service: str, env: str) -> DeployFacts | None:
        """The newest succeeded deploy (or rollback) of `service` to `env`."""
        found = self._store.last_succeeded(service, env, 1)
        d = found[0] if found else None
        if d is None or d.finished_at is None:
            return None
        return DeployFacts(
            deploy_id=d.id, version=d.version, previous_version=d.from_version,
            deployed_by=d.requester, finished_at=d.finished_at,
            announcement_id=self._announcement(d.id),
        )  # fmt: skip

    def deploying(self, service: str, env: str) -> bool:
        """Whether a deploy of `service` to `env` runs now."""
        running = self._store.in_states([DeployState.RUNNING])
        return any(r.service == service and r.env == env for r in running)

    def _announcement(self, deploy_id: int) -> int | None:
        if self._outbox is None:
            return None
        for event in ("succeeded", "started"):
            found = self._outbox.find(announcement_key(deploy_id, event))
            if found is not None:
                return found
        return None

"""The Monitor stage's view of the Deploy stage's store: who shipped what, and whether a
deploy is swapping a deployment right now."""

from __future__ import annotations

from bot.core.deploy.model import DeployState, DeployStore
from bot.core.monitor.model import DeployFacts


class DeployRecords:
    """monitor.ports.DeployHistory over the deploy store."""

    def __init__(self, store: DeployStore) -> None:
        self._store = store

    def last_deploy(self, service: str, env: str) -> DeployFacts | None:
        """The newest succeeded deploy (or rollback) of `service` to `env`."""
        found = self._store.last_succeeded(service, env, 1)
        d = found[0] if found else None
        if d is None or d.finished_at is None:
            return None
        return DeployFacts(
            deploy_id=d.id, version=d.version, previous_version=d.from_version,
            deployed_by=d.requester, finished_at=d.finished_at, channel_id=d.channel_id,
            message_ts=d.message_ts,
        )  # fmt: skip

    def deploying(self, service: str, env: str) -> bool:
        """Whether a deploy of `service` to `env` runs now."""
        running = self._store.in_states([DeployState.RUNNING])
        return any(r.service == service and r.env == env for r in running)

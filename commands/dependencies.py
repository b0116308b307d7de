"""What the composition root hands every command module's register()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Config, SlackConfig
from bot.core.access import OPEN, Access
from bot.core.background import Background
from bot.core.build.stages import BuildStages
from bot.core.changes import IssueLookup, SourceRepository
from bot.core.clock import Clock, SystemClock
from bot.core.code.catalogue import HealthProbe, Inventory
from bot.core.deploy.desk import DeployDesk
from bot.core.lease_keeper import LeaseKeeper
from bot.core.monitor.stage import Monitoring
from bot.core.operate.desk import OperateDesk
from bot.core.outbox import Outbox
from bot.core.plan.model import DigestLedger, Tracker
from bot.core.ports import AuditLog, Directory, Notifier
from bot.core.ship.desk import ShipDesk


@dataclass(frozen=True, slots=True)
class Services:
    """The config and the ports the stages may use. Stages add their ports here as they come
    (with a default, so that tests and the manifest can build Services without them).

    register() functions only declare: they must not call a port, so that the verbs can be
    listed (for the manifest) without a Slack workspace, a store or an engine.
    """

    config: Config
    audit: AuditLog
    notifier: Notifier
    clock: Clock
    directory: Directory
    state_dir: Path
    repository: Callable[[str], SourceRepository]
    """The git repository of a source (a service's `repo`), mirrored under state_dir."""
    issues: IssueLookup | None = field(default=None)
    """Jira, when configured."""
    builds: BuildStages | None = field(default=None)
    """Build, test and release jobs on the Docker engine."""
    tracker: Tracker | None = field(default=None)
    """Jira's sprints and issues for /plan, when configured."""
    digests: DigestLedger | None = field(default=None)
    """What the last sprint digest saw."""
    background: Background | None = field(default=None)
    """Threads of its own for slow answers (Jira, Docker, git), off the router's workers."""
    inventory: Inventory | None = field(default=None)
    """What runs on the Docker engine (read-only), for /services and /changes."""
    probe: HealthProbe | None = field(default=None)
    """HTTP health checks of running services."""
    deploys: DeployDesk | None = field(default=None)
    """Deploy requests, approvals, locks and their execution on the engine."""
    keeper: LeaseKeeper | None = field(default=None)
    """The lease for singleton work and the processes alive, for /ops status."""
    access: Access = field(default=OPEN)
    """Who may run which verb (opsloop.yml's access section), and who is an admin."""
    outbox: Outbox | None = field(default=None)
    """Messages that must land once without the caller waiting on Slack (announcements)."""
    monitor: Monitoring | None = field(default=None)
    """Checks, alerts and silences."""
    operate: OperateDesk | None = field(default=None)
    """Status, scale, restart and logs of what runs, and the autoscaler's switch."""
    ships: ShipDesk | None = field(default=None)
    """/ship pipelines over the build, deploy and monitor stages."""

    @classmethod
    def unwired(cls) -> Services:
        """Services for declaring verbs only; any port call raises."""
        unwired: Any = _Unwired()
        return cls(
            config=Config(slack=SlackConfig(ops_channel="C0UNWIRED")),
            audit=unwired,
            notifier=unwired,
            clock=SystemClock(),
            directory=unwired,
            state_dir=Path("/nonexistent"),
            repository=unwired,
        )


class _Unwired:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"{name}() called on declarations-only services")

    def __call__(self, *args: object) -> Any:
        raise RuntimeError("called on declarations-only services")

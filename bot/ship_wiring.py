"""The Continuous stage's part of the composition root: /ship's desk over the build stages,
the deploy desk and the Monitor stage, its pipelines in the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from sqlalchemy import Engine

from bot.config import Config
from bot.config.estates import ship_settings
from bot.core.build.model import Checkout
from bot.core.build.stages import BuildStages
from bot.core.changes import IssueLookup, SourceRepository
from bot.core.clock import Clock
from bot.core.deploy.desk import DeployDesk
from bot.core.monitor.stage import Monitoring
from bot.core.outbox import Outbox
from bot.core.ports import Notifier
from bot.core.ship.desk import ShipDesk
from bot.core.ship.feed import MonitorFeed
from bot.core.ship.run import ShipDeps
from bot.store.pipelines import SqlPipelineStore


def build_ship_desk(
    *,
    config: Config,
    engine: Engine,
    builds: BuildStages,
    deploys: DeployDesk,
    monitoring: Monitoring,
    repository: Callable[[str], SourceRepository],
    notifier: Notifier,
    outbox: Outbox,
    clock: Clock,
    issues: IssueLookup | None,
) -> ShipDesk:
    """The ship desk; call resume() under the singletons' lease and stop() on the way out."""

    def checkout(source: str) -> Checkout:
        # The git adapter behind `repository` also exports, which builds need.
        return cast(Checkout, repository(source))

    return ShipDesk(
        ShipDeps(
            settings=ship_settings(config),
            store=SqlPipelineStore(engine),
            builds=builds,
            repository=checkout,
            deploys=deploys,
            feed=MonitorFeed(monitoring, clock),
            notifier=notifier,
            outbox=outbox,
            clock=clock,
            issues=issues,
        )
    )

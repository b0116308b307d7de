"""The stages, one module each. Adding a stage means adding its module to MODULES."""

from __future__ import annotations

from collections.abc import Iterable

from bot.core.verbs import Registry
from commands import (
    build,
    code,
    deploy,
    lists,
    monitor,
    operate,
    ops,
    plan,
    release,
    ship,
    test,
)
from commands.dependencies import Services

MODULES = (plan, code, build, test, release, deploy, operate, monitor, ship, ops, lists)


def register_all(registry: Registry, services: Services) -> None:
    """Let every stage declare its verbs, reactions and buttons."""
    for module in MODULES:
        module.register(registry, services)


def declared_registry() -> Registry:
    """Every stage's declarations, with nothing wired behind them: for the app manifest and
    help, which need the verbs but never call a handler."""
    registry = Registry()
    register_all(registry, Services.unwired())
    return registry


def unknown_verbs(names: Iterable[str]) -> list[str]:
    """The names in opsloop.yml's access.verbs that name no declared verb (nor the first word
    of one)."""
    declared = declared_registry().verbs()
    known = {verb.name for verb in declared} | {verb.name.split(" ")[0] for verb in declared}
    return [name for name in names if name not in known]

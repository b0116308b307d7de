"""What Deploy knows of opsloop.yml: where each service runs, who approves each environment,
which environments are protected. The composition root builds it once from the config, so
the stage's rules never read the config file's models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.core.deploy.approvals import Policy
from bot.core.deploy.model import Target
from bot.core.errors import NotFound, UsageError

NO_APPROVAL = Policy(0, (), 30)


@dataclass(frozen=True, slots=True)
class Environment:
    """One environment's rules for deploys into it."""

    name: str
    policy: Policy = NO_APPROVAL
    protected: bool = False
    approval_channel: str | None = None
    """Where its approval requests are posted; None: the ops channel."""


@dataclass(frozen=True, slots=True)
class Deployable:
    """One service as Deploy sees it: its repository and how it runs in each environment it
    has deploy settings for. `targets` is empty when the service has no port (its health
    path cannot be probed), though `environments` still names where it would deploy."""

    name: str
    repo: str
    environments: tuple[str, ...] = ()
    targets: Mapping[str, Target] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Estate:
    """Every service and environment Deploy may act on."""

    ops_channel: str
    services: Mapping[str, Deployable] = field(default_factory=dict)
    environments: Mapping[str, Environment] = field(default_factory=dict)

    def target(self, service: str, env: str) -> Target:
        """How `service` runs in `env`; NotFound or a UsageError naming the missing setting."""
        deployable = self.services.get(service)
        if deployable is None:
            raise NotFound(f"There is no service `{service}` in opsloop.yml.")
        if env not in self.environments:
            raise NotFound(f"There is no environment `{env}` in opsloop.yml.")
        if env not in deployable.environments:
            known = ", ".join(f"`{e}`" for e in deployable.environments) or "none"
            raise UsageError(
                f"`{service}` has no deploy settings for `{env}` (services.{service}.deploy.{env} "
                f"in opsloop.yml). It deploys to: {known}."
            )
        target = deployable.targets.get(env)
        if target is None:
            raise UsageError(
                f"`{service}` has no `port` in opsloop.yml, so its health path cannot be probed."
            )
        return target

    def policy(self, env: str) -> Policy:
        """The environment's approval rule (none for an unknown environment)."""
        environment = self.environments.get(env)
        return environment.policy if environment is not None else NO_APPROVAL

    def approval_channel(self, env: str) -> str:
        """Where approval requests for `env` are posted: its approval channel, else ops."""
        environment = self.environments.get(env)
        channel = environment.approval_channel if environment is not None else None
        return channel or self.ops_channel

    def protected(self, env: str) -> bool:
        """Whether `env` takes only versions opsloop released."""
        environment = self.environments.get(env)
        return environment is not None and environment.protected

    def repo(self, service: str) -> str:
        """The service's git repository (NotFound for an unknown service)."""
        deployable = self.services.get(service)
        if deployable is None:
            raise NotFound(f"There is no service `{service}` in opsloop.yml.")
        return deployable.repo

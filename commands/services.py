"""What the composition root hands every command module's register()."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.config import Config, SlackConfig
from bot.core.clock import Clock, SystemClock
from bot.core.ports import AuditLog, Notifier


@dataclass(frozen=True, slots=True)
class Services:
    """The config and the ports the stages may use. Stages add their ports here as they come.

    register() functions only declare: they must not call a port, so that the verbs can be
    listed (for the manifest) without a Slack workspace, a store or an engine.
    """

    config: Config
    audit: AuditLog
    notifier: Notifier
    clock: Clock

    @classmethod
    def unwired(cls) -> Services:
        """Services for declaring verbs only; any port call raises."""
        unwired: Any = _Unwired()
        return cls(
            config=Config(slack=SlackConfig(ops_channel="C0UNWIRED")),
            audit=unwired,
            notifier=unwired,
            clock=SystemClock(),
        )


class _Unwired:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"{name}() called on declarations-only services")

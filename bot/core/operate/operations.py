"""Scale and restart as the deploy runner carries them out, once a request is approved (or
needs no approval): bot.core.deploy.model.Operation for each."""

from __future__ import annotations

from bot.core.deploy.model import DeployRequest, DeployState, Outcome, Progress
from bot.core.operate.model import Fleet, OperateEngine


class ScaleOperation:
    """Sets the Swarm service's replicas to the request's count."""

    def __init__(self, fleet: Fleet, engine: OperateEngine) -> None:
        self._fleet = fleet
        self._engine = engine

    def run(self, request: DeployRequest, progress: Progress) -> Outcome:
        """Scale and wait for the replicas to run."""
        placement = self._fleet.placement(request.service, request.env)
        if request.replicas is None:
            return Outcome(DeployState.FAILED, "The request names no replica count.")
        return self._engine.scale(placement, request.replicas, progress)

    def settle(self, request: DeployRequest) -> Outcome:
        """Succeeded when the engine runs the requested count."""
        status = self._engine.status(self._fleet.placement(request.service, request.env))
        if status.desired == request.replicas and status.running == request.replicas:
            return Outcome(DeployState.SUCCEEDED, f"the engine runs {status.running} replica(s).")
        return Outcome(
            DeployState.FAILED,
            f"the engine runs {status.running} of {status.desired} replica(s), "
            f"not the {request.replicas} asked for.",
        )


class RestartOperation:
    """A rolling restart: Swarm force-updates, a container is replaced health-gated."""

    def __init__(self, fleet: Fleet, engine: OperateEngine) -> None:
        self._fleet = fleet
        self._engine = engine

    def run(self, request: DeployRequest, progress: Progress) -> Outcome:
        """Restart and wait for the tasks to run again."""
        return self._engine.restart(self._fleet.placement(request.service, request.env), progress)

    def settle(self, request: DeployRequest) -> Outcome:
        """Succeeded when every task the service wants runs."""
        status = self._engine.status(self._fleet.placement(request.service, request.env))
        if status.exists and status.desired and status.running >= status.desired:
            return Outcome(DeployState.SUCCEEDED, "every task runs again.")
        return Outcome(
            DeployState.FAILED, f"{status.running} of {status.desired} task(s) run; see /status."
        )

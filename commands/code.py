"""Code: the service catalogue and what is merged but not yet deployed.

Both read the Docker engine, the services' health endpoints and git, which can be slow:
the work runs on the Background threads, never on the router's workers.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.core.blocks import MAX_BLOCKS
from bot.core.changes import Commit, IssueSummary, changes_blocks, jira_keys
from bot.core.code.catalogue import (
    CatalogueEntry,
    Deployment,
    EnvironmentRow,
    Health,
    Probe,
    endpoint,
    services_view,
)
from bot.core.errors import EngineUnavailable, IntegrationError, NotAvailableYet, NotFound
from bot.core.values import Block, Invocation, Reply
from bot.core.verbs import Arg, ArgKind, Registry, Verb
from commands.dependencies import Services

STAGE = "Code"
DEADLINE = 30.0
UNDEPLOYED_LIMIT = 50
PENDING_LIMIT = 200


def register(registry: Registry, services: Services) -> None:
    """Declare /services and /changes."""
    stage = _Code(services)
    registry.add(
        Verb(
            "services",
            "Every service, its repository and what runs where.",
            STAGE,
            stage.catalogue,
        )
    )
    registry.add(
        Verb(
            "changes",
            "What is merged but not yet deployed to an environment.",
            STAGE,
            stage.changes,
            args=(Arg("service", ArgKind.SERVICE), Arg("env", ArgKind.ENVIRONMENT, optional=True)),
        )
    )


class _Code:
    def __init__(self, services: Services) -> None:
        self._s = services

    def catalogue(self, invocation: Invocation) -> Reply:
        """`/services`."""
        return self._slow(invocation, "the catalogue", self._catalogue)

    def changes(self, invocation: Invocation) -> Reply:
        """`/changes <service> [env]`."""
        name = invocation.arg("service")
        service = self._s.config.service(name)
        if service is None:
            raise NotFound(f"There is no service `{name}`.")
        wanted = invocation.opt("env")
        envs = [wanted] if wanted else list(service.deploy)
        if not envs:
            raise NotFound(
                f"`{name}` deploys nowhere yet (services.{name}.deploy in opsloop.yml); "
                f"name an environment: `/changes {name} <env>`."
            )
        return self._slow(invocation, f"the changes of {name}", lambda: self._changes(name, envs))

    def _catalogue(self) -> Reply:
        note = None
        entries = []
        for name, service in self._s.config.services.items():
            rows = []
            for env in service.deploy:
                running: Deployment | None = None
                if note is None and self._s.inventory is not None:
                    try:
                        running = self._s.inventory.deployment(name, env)
                    except EngineUnavailable as error:
                        note = error.message
                rows.append(self._row(env, running, service.health, note))
            entries.append(CatalogueEntry(name, service.repo, service.image, tuple(rows)))
        if self._s.inventory is None:
            note = "No Docker engine is configured."
        return services_view(entries, note)

    def _row(
        self, env: str, deployment: Deployment | None, health_path: str, note: str | None
    ) -> EnvironmentRow:
        url = endpoint(deployment, health_path)
        if note is not None or url is None or self._s.probe is None:
            return EnvironmentRow(env, deployment, url, Probe(Health.UNKNOWN))
        return EnvironmentRow(env, deployment, url, self._s.probe.check(url))

    def _changes(self, name: str, envs: list[str]) -> Reply:
        service = self._s.config.services[name]
        repo = self._s.repository(service.repo)
        head = repo.resolve("HEAD")
        blocks: list[Block] = []
        for env in envs:
            running = self._s.inventory.deployment(name, env) if self._s.inventory else None
            revision = running.revision if running else None
            if revision:
                commits = repo.log(revision, head, PENDING_LIMIT)
                title = (
                    f"*{name}* in *{env}*: {len(commits)} commits merged since the deployed "
                    f"`{revision[:7]}` ({running.version if running else '?'}), up to `{head[:7]}`"
                )
            else:
                commits = repo.log(None, head, UNDEPLOYED_LIMIT)
                what = "runs without a revision label" if running else "has nothing deployed"
                title = (
                    f"*{name}* {what} in *{env}*: the latest {len(commits)} commits up to "
                    f"`{head[:7]}`"
                )
            blocks += changes_blocks(title, commits, self._issues(commits))
        if len(blocks) > MAX_BLOCKS:
            blocks = blocks[:MAX_BLOCKS]
        return Reply(text=f"Changes of {name} not yet deployed", blocks=tuple(blocks))

    def _issues(self, commits: list[Commit]) -> dict[str, IssueSummary] | None:
        keys = jira_keys(commits)
        if not keys or self._s.issues is None:
            return None
        try:
            return self._s.issues.summaries(keys)
        except IntegrationError:
            return None  # the commits still show, with plain keys

    def _slow(self, invocation: Invocation, what: str, work: Callable[[], Reply]) -> Reply:
        background = self._s.background
        if background is None:
            raise NotAvailableYet("The Code stage is not wired in this bot.")
        return background.answer(
            invocation,
            work,
            deadline=DEADLINE,
            waiting=f"Looking up {what}…",
            late=f"Looking up {what} took more than {DEADLINE:g} seconds; try again later.",
        )

"""Code: the service catalogue and what is merged but not yet deployed.

Both read the Docker engine, the services' health endpoints and git, which can be slow:
the work runs on the Background threads, never on the router's workers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from bot.config import ServiceConfig
from bot.core.background import Patience, answer_slowly
from bot.core.blocks import MAX_BLOCKS, section
from bot.core.changes import (
    Commit,
    IssueSummary,
    SourceRepository,
    changes_blocks,
    jira_keys,
    revision_not_in_repository,
)
from bot.core.code.catalogue import (
    CatalogueContext,
    CatalogueEntry,
    Deployment,
    EnvironmentRow,
    Health,
    Probe,
    ServiceState,
    endpoint,
    probe_all,
    services_listing,
)
from bot.core.deploy.model import DeployState
from bot.core.errors import EngineUnavailable, IntegrationError, NotFound
from bot.core.listing import Filters, Listing, ListVerb, Vocabulary
from bot.core.values import Block, Invocation, Reply
from bot.core.verbs import Arg, ArgKind, Registry, Verb
from commands.dependencies import Services
from commands.lists import show_list

STAGE = "Code"
DEADLINE = 30.0
UNDEPLOYED_LIMIT = 50
PENDING_LIMIT = 200
FILTER_HELP = "an environment, a service or prefix*, a state (unhealthy, deploying, ...), page N"


def register(registry: Registry, services: Services) -> None:
    """Declare /services and /changes."""
    stage = _Code(services)
    listing = ListVerb("services", stage.vocabulary, stage.listing, stage.first_listing)
    registry.add_list(
        Verb(
            "services",
            "Every service and what runs where, a page at a time.",
            STAGE,
            partial(stage.catalogue, listing),
            args=(Arg("filters", optional=True, rest=True, help=FILTER_HELP),),
        ),
        listing,
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

    def catalogue(self, listing: ListVerb, invocation: Invocation) -> Reply:
        """`/services [filters]`."""
        asked = listing.parse(invocation.words("filters"))  # answered before any slow work
        return show_list(self._s, invocation, listing, asked)

    def vocabulary(self) -> Vocabulary:
        """/services filters on environments, services, prefixes and service states."""
        config = self._s.config
        return Vocabulary(
            envs=tuple(config.environments),
            services=tuple(config.services),
            states=tuple(state.value for state in ServiceState),
        )

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

    def listing(self, user: str, filters: Filters) -> Listing:
        """Every service under the filters: the engine read once, health checked concurrently."""
        del user  # /services has no `mine`
        read = self._read(filters)
        return self._built(read, filters, self._probes(read))

    def first_listing(
        self, user: str, filters: Filters
    ) -> tuple[Listing, Callable[[], Listing] | None]:
        """The page from the engine's listing alone, health pending, and how to finish it
        with the health checks (reusing that listing). A filter on health waits for them."""
        del user
        read = self._read(filters)
        health_asked = {ServiceState.HEALTHY.value, ServiceState.UNHEALTHY.value} & filters.states
        nothing_to_check = not any(read.urls.values()) or self._s.probe is None
        if health_asked or nothing_to_check or read.note is not None:
            return self._built(read, filters, self._probes(read)), None
        return self._built(read, filters, None), lambda: self._built(
            read, filters, self._probes(read)
        )

    def _read(self, filters: Filters) -> _Read:
        config = self._s.config
        wanted = [
            (name, service) for name, service in config.services.items() if filters.service(name)
        ]
        running, note = self._running()
        urls: dict[tuple[str, str], str | None] = {}
        for name, service in wanted:
            for env in service.deploy:
                if filters.env(env):
                    urls[name, env] = endpoint(running.get((name, env)), service.health.path)
        return _Read(wanted, running, urls, note, self._context(note))

    def _probes(self, read: _Read) -> dict[str, Probe]:
        if read.note is not None or self._s.probe is None:
            return {}
        return probe_all(self._s.probe, [url for url in read.urls.values() if url])

    def _built(self, read: _Read, filters: Filters, probes: dict[str, Probe] | None) -> Listing:
        """The listing; `probes` None while the health checks are still to come."""
        checking = probes is None
        found = probes or {}
        default = Probe(Health.UNKNOWN)
        rows: dict[str, list[EnvironmentRow]] = {name: [] for name, _service in read.wanted}
        for (name, env), url in read.urls.items():
            rows[name].append(EnvironmentRow(env, read.running.get((name, env)), url,
                                             found.get(url or "", default)))  # fmt: skip
        entries = [
            CatalogueEntry(name, service.repo, service.image, tuple(rows[name]))
            for name, service in read.wanted
        ]
        total = len(self._s.config.services)
        return services_listing(entries, read.context, filters, total, checking=checking)

    def _running(self) -> tuple[Mapping[tuple[str, str], Deployment], str | None]:
        if self._s.inventory is None:
            return {}, "No Docker engine is configured."
        try:
            return self._s.inventory.deployments(), None
        except EngineUnavailable as error:
            return {}, error.message

    def _context(self, note: str | None) -> CatalogueContext:
        desk = self._s.deploys
        if desk is None:
            return CatalogueContext(note=note)
        active = desk.store.in_states([DeployState.APPROVED, DeployState.RUNNING])
        return CatalogueContext(
            deploying=frozenset((r.service, r.env) for r in active),
            locked=frozenset(lock.env for lock in desk.locks.in_force()),
            note=note,
        )

    def _changes(self, name: str, envs: list[str]) -> Reply:
        service = self._s.config.services[name]
        repo = self._s.repository(service.repo)
        head = repo.resolve("HEAD")
        blocks: list[Block] = []
        for env in envs:
            running = self._s.inventory.deployment(name, env) if self._s.inventory else None
            if running is not None and running.foreign:
                blocks.append(section(f"*{name}* in *{env}*: {_not_ours(running)}"))
                continue
            revision = running.revision if running else None
            unknown = revision is not None and not _in_repository(repo, revision)
            if unknown and revision is not None:
                version = running.version if running else None
                blocks.append(section(revision_not_in_repository(name, version, revision)))
                revision = None
            if revision:
                commits = repo.log(revision, head, PENDING_LIMIT)
                title = (
                    f"*{name}* in *{env}*: {len(commits)} commits merged since the deployed "
                    f"`{revision[:7]}` ({running.version if running else '?'}), up to `{head[:7]}`"
                )
            else:
                commits = repo.log(None, head, UNDEPLOYED_LIMIT)
                what = "runs without a revision label" if running else "has nothing deployed"
                if unknown:
                    what = "runs a commit the repository does not have"
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
        return answer_slowly(
            self._s.background, invocation, work, _looking_up(what),
            unwired="The Code stage is not wired in this bot.",
        )  # fmt: skip


def _looking_up(what: str) -> Patience:
    return Patience(
        deadline=DEADLINE,
        waiting=f"Looking up {what}…",
        late=f"Looking up {what} took more than {DEADLINE:g} seconds; try again later.",
    )


@dataclass(frozen=True, slots=True)
class _Read:
    """What one /services view read: the services the filters kept, the engine's listing
    (once per view), each deployment's health URL, and the Deploy stage's context."""

    wanted: list[tuple[str, ServiceConfig]]
    running: Mapping[tuple[str, str], Deployment]
    urls: dict[tuple[str, str], str | None]
    note: str | None
    context: CatalogueContext


def _in_repository(repo: SourceRepository, revision: str) -> bool:
    try:
        repo.resolve(revision)
    except NotFound:
        return False
    return True


def _not_ours(running: Deployment) -> str:
    return (
        f"`{running.name}` belongs to another opsloop installation (namespace "
        f"`{running.foreign}`), not this one: nothing of this installation runs there."
    )

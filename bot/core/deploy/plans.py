"""From the estate and the outside world to a deploy plan: the target, the approval rule,
the version running now, the digest, and what ships between the two versions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from bot.core.blocks import section
from bot.core.changes import (
    IssueLookup,
    SourceRepository,
    changes_blocks,
    jira_keys,
    revision_not_in_repository,
)
from bot.core.deploy.estate import Estate
from bot.core.deploy.locks import Locks
from bot.core.deploy.model import DeployEngine, DeployKind, DeployStore, ImageIndex, Target
from bot.core.deploy.views import Plan
from bot.core.errors import NotFound, OpsloopError, PermissionDenied, UsageError
from bot.core.values import Block

SHIPPED_LIMIT = 200


class ReleaseLog(Protocol):
    """Which versions opsloop released (read-only: the Release stage writes them)."""

    def released_versions(self, service: str) -> Sequence[str]:
        """The versions of the service's succeeded releases, newest first."""
        ...


def deploy_version(word: str) -> str:
    """The version as tagged in the registry: a leading `v` dropped, as /release does.
    UsageError for `+build` metadata, which a Docker tag cannot hold."""
    version = word.removeprefix("v")
    if "+" in version:
        raise UsageError(
            f"`{word}` has build metadata (`+{version.partition('+')[2]}`), which a Docker tag "
            f"cannot hold; give the released version without it: `{version.partition('+')[0]}`."
        )
    return version


class Planner:
    """Works out the plan of a deploy or rollback. Slow (pulls images, reads git): call it
    off the router's workers."""

    def __init__(
        self,
        *,
        estate: Estate,
        store: DeployStore,
        locks: Locks,
        engine: DeployEngine,
        images: ImageIndex,
        repository: Callable[[str], SourceRepository],
        issues: IssueLookup | None,
        releases: ReleaseLog | None = None,
    ) -> None:
        self.estate = estate
        self._releases = releases
        self._store = store
        self._locks = locks
        self._engine = engine
        self._images = images
        self._repository = repository
        self._issues = issues

    def plan(
        self, kind: DeployKind, service: str, env: str, version: str | None, user: str
    ) -> Plan:
        """The plan; NotFound for a version the registry lacks, PermissionDenied for one
        opsloop never released going to a protected environment, EngineUnavailable and
        RegistryUnavailable when those are down."""
        target = self.estate.target(service, env)
        if version is not None:
            version = deploy_version(version)
        # Before anything else: a deploy the engine cannot take must not wait for approval.
        self._engine.preflight(target)
        current = self._engine.running(target).version
        if version is None:
            version = self._previous(service, env, current)
        digest = self._images.digest(target.image, version)
        if digest is None:
            raise NotFound(
                f"Version `{version}` of `{service}` is not in the registry "
                f"(`{target.image}:{version}`)."
            )
        self._check_protected(service, env, version)
        changes, shipped = self._changes(target, current, version)
        return Plan(
            kind=kind, service=service, env=env, image=target.image, version=version,
            digest=digest, from_version=current, policy=self.estate.policy(env),
            blocking_lock=self._locks.blocking(env, user), changes=changes, shipped=shipped,
        )  # fmt: skip

    def _check_protected(self, service: str, env: str, version: str) -> None:
        # Protected environments take only what went through the pipeline (build, test,
        # release); without the release history the answer is no.
        if not self.estate.protected(env):
            return
        released = self._releases is not None and any(
            released.removeprefix("v") == version
            for released in self._releases.released_versions(service)
        )
        if not released:
            raise PermissionDenied(
                f"`{env}` is protected: it only takes versions opsloop released, and "
                f"`{service}` `{version}` was never released. Run `/release {service} {version}` "
                f"first (after `/build` and `/test` pass)."
            )

    def _previous(self, service: str, env: str, current: str | None) -> str:
        for done in self._store.last_succeeded(service, env, 50):
            if done.version == current and done.from_version and done.from_version != current:
                return done.from_version
            if done.version != current:
                return done.version
        raise NotFound(
            f"No earlier version of `{service}` in `{env}` is known; give one: "
            f"`/rollback {service} {env} <version>`."
        )

    def _changes(
        self, target: Target, current: str | None, version: str
    ) -> tuple[tuple[dict[str, object], ...], str]:
        title = f"*What ships* (`{current or '—'}` → `{version}`)"
        try:
            new = self._engine.revision(f"{target.image}:{version}")
            old = self._engine.revision(f"{target.image}:{current}") if current else None
            if new is None:
                return (), "unknown (the image has no revision label)"
            repository = self._repository(self.estate.repo(target.service))
            try:
                new = repository.resolve(new)  # fetches the mirror before it is read
            except NotFound:
                warning = revision_not_in_repository(target.service, version, new)
                return (section(warning),), f"unknown: {warning.removeprefix(':warning: ')}"
            notes: list[Block] = []
            if old is not None and not _known(repository, old):
                notes.append(section(revision_not_in_repository(target.service, current, old)))
                old = None
            commits = repository.log(old, new, SHIPPED_LIMIT)
            keys = jira_keys(commits)
            issues = self._issues.summaries(keys) if self._issues and keys else None
        except OpsloopError as error:
            return (), f"unknown ({error.message})"
        blocks = tuple(notes + changes_blocks(title, commits, issues))
        summary = f"{len(commits)} commit(s)"
        if keys:
            summary += ": " + ", ".join(keys[:20])
        return blocks, summary


def _known(repository: SourceRepository, revision: str) -> bool:
    try:
        repository.resolve(revision)
    except NotFound:
        return False
    return True

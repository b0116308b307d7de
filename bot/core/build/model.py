"""The ports and values of the Build, Test and Release stages: the image engine, the
registry's view of releases, cancellation, and reading build steps out of the log."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from semver import Version

from bot.core.changes import SourceRepository

LogSink = Callable[[str], None]
"""Receives the job's output one line at a time."""

_STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


class Cancelled(Exception):
    """The job was cancelled while this ran."""


class JobFailed(Exception):
    """The job ran and failed; the message is what the user reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BuildFailed(JobFailed):
    """The engine refused the build; `message` is its error."""


class CancelToken:
    """Set once when someone cancels a job; the adapter doing the work registers how to stop
    it (kill the test container, drop the build connection)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._callbacks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        """Whether cancel() was called."""
        return self._set

    def cancel(self) -> None:
        """Cancel, running every registered stop callback once."""
        with self._lock:
            if self._set:
                return
            self._set = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call `callback` on cancel (at once if already cancelled)."""
        with self._lock:
            if not self._set:
                self._callbacks.append(callback)
                return
        callback()

    def check(self) -> None:
        """Raise Cancelled if cancelled."""
        if self._set:
            raise Cancelled()


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """An image on the engine: its id (a content digest), size in bytes, and labels."""

    id: str
    size: int
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class TestRun:
    """How a test container ended; `report` is the JUnit file when one was asked for."""

    __test__ = False  # not a pytest test class

    exit_code: int
    timed_out: bool
    report: bytes | None


class ImageEngine(Protocol):
    """The Docker engine, for images: build, run tests, tag, push."""

    def check(self) -> None:
        """EngineUnavailable unless the engine answers."""
        ...

    def build(
        self,
        context: Path,
        dockerfile: str,
        labels: Mapping[str, str],
        on_line: LogSink,
        cancel: CancelToken,
    ) -> str:
        """Build the folder; the new image's id. BuildFailed, Cancelled, EngineUnavailable."""
        ...

    def inspect(self, reference: str) -> ImageInfo | None:
        """The image `reference` names (`repo:tag` or an id), or None."""
        ...

    def tag(self, image_id: str, reference: str) -> None:
        """Name the image `repo:tag`."""
        ...

    def untag(self, reference: str) -> None:
        """Remove the name `repo:tag` (the image stays if other names use it)."""
        ...

    def run_tests(
        self,
        reference: str,
        command: Sequence[str],
        *,
        timeout: int,
        report_path: str | None,
        labels: Mapping[str, str],
        on_line: LogSink,
        cancel: CancelToken,
    ) -> TestRun:
        """Run `command` in a new container of the image (no host mounts), stop it after
        `timeout` seconds, copy the report out, and remove the container."""
        ...

    def push(self, reference: str, on_line: LogSink, cancel: CancelToken) -> str:
        """Push `repo:tag`; the manifest digest. JobFailed when the registry refuses."""
        ...


class ReleaseRegistry(Protocol):
    """What the registry knows about a service's releases."""

    def tags(self, image: str) -> list[str]:
        """The tags of `image` (`host:port/path`); RegistryUnavailable when unreachable."""
        ...

    def revision(self, image: str, tag: str) -> str | None:
        """The org.opencontainers.image.revision label of `image:tag`, if it has one."""
        ...


class Checkout(SourceRepository, Protocol):
    """A repository that can also write a commit's files into a folder."""

    def export(self, sha: str, dest: Path) -> None:
        """Write the files of commit `sha` into the empty folder `dest`."""
        ...


@dataclass(frozen=True, slots=True)
class Step:
    """The build step in progress: `Step 3/5 : RUN make`."""

    number: int
    total: int
    text: str

    def label(self) -> str:
        """`3/5 RUN make`."""
        return f"{self.number}/{self.total} {self.text}"


def parse_step(line: str) -> Step | None:
    """The step a classic-builder log line starts, or None."""
    match = _STEP_RE.match(line.strip())
    if match is None:
        return None
    return Step(int(match.group(1)), int(match.group(2)), match.group(3)[:200])


def release_version(tag: str) -> Version | None:
    """The semantic version a tag names (with or without a leading `v`); None for other
    tags (`latest`, a short sha)."""
    try:
        return Version.parse(tag.removeprefix("v"))
    except ValueError:
        return None


def previous_release(tags: Sequence[str], version: str) -> str | None:
    """The newest semver tag older than `version` in semver's precedence (pre-releases
    before their release, `rc.10` after `rc.2`): the release the notes start from."""
    target = release_version(version)
    older = [
        (found, tag)
        for tag in tags
        if (found := release_version(tag)) is not None and (target is None or found < target)
    ]
    return max(older)[1] if older else None

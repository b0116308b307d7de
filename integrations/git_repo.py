"""A service's git repository, read with the git program and never through a shell.

The repository (a path or a URL) is mirrored into a cache folder and fetched before each
use; checkouts are exported with `git archive` into a clean folder, so a build never sees
a .git folder or files left over from an earlier build.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
import threading
from datetime import datetime
from pathlib import Path

from bot.core.changes import Commit
from bot.core.errors import NotFound, RepositoryUnavailable, UsageError
from bot.core.parsing import is_safe_ref
from bot.core.redact import public_source

GIT_TIMEOUT = 120
_FIELD = "\x1f"
_RECORD = "\x1e"
# No prompts for credentials, no system or user config that could run hooks or helpers.
_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "HOME": "/nonexistent",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LC_ALL": "C",
}
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


class GitRepo:
    """One repository, mirrored under `cache_dir`."""

    def __init__(self, source: str, cache_dir: Path) -> None:
        self.source = source
        self._shown = public_source(source)
        digest = hashlib.sha256(source.encode()).hexdigest()[:16]
        self._mirror = cache_dir / f"{digest}.git"
        with _locks_guard:
            self._lock = _locks.setdefault(self._mirror, threading.Lock())

    def fetch(self) -> None:
        """Bring the mirror up to date with the source (cloning it the first time)."""
        with self._lock:
            if (self._mirror / "HEAD").exists():
                self._git("fetch", "--prune", "--quiet", "origin", "+refs/*:refs/*")
            else:
                self._mirror.parent.mkdir(parents=True, exist_ok=True)
                self._run(
                    ["clone", "--mirror", "--quiet", "--", self.source, str(self._mirror)], None
                )

    def resolve(self, ref: str) -> str:
        """The full sha of `ref` (a branch, tag or sha) after fetching."""
        if not is_safe_ref(ref):
            raise UsageError(f"`{ref[:60]}` is not a valid git branch, tag or commit.")
        self.fetch()
        try:
            return self._git(
                "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
            ).strip()
        except RepositoryUnavailable as error:
            raise NotFound(f"`{ref}` is not a branch, tag or commit of {self._shown}.") from error

    def head(self) -> str:
        """The sha the repository's HEAD points at."""
        self.fetch()
        return self._git("rev-parse", "--verify", "HEAD^{commit}").strip()

    def log(self, since: str | None, until: str, limit: int = 200) -> list[Commit]:
        """Commits reachable from `until` and not from `since`, newest first."""
        span = f"{since}..{until}" if since else until
        output = self._git(
            "log", f"--max-count={limit}", f"--format=%H{_FIELD}%an{_FIELD}%cI{_FIELD}%s{_RECORD}",
            "--end-of-options", span,
        )  # fmt: skip
        commits = []
        for record in output.split(_RECORD):
            fields = record.strip("\n").split(_FIELD)
            if len(fields) == 4:
                sha, author, when, subject = fields
                commits.append(Commit(sha, subject, author, datetime.fromisoformat(when)))
        return commits

    def is_ancestor(self, older: str, newer: str) -> bool:
        """Whether `older` is in `newer`'s history."""
        try:
            self._git("merge-base", "--is-ancestor", older, newer)
        except RepositoryUnavailable:
            return False
        return True

    def export(self, sha: str, dest: Path) -> None:
        """Write the files of commit `sha` into the empty folder `dest`."""
        archive = self._run(["archive", "--format=tar", sha], self._mirror)
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            try:
                tar.extractall(dest, filter="data")
            except tarfile.FilterError as error:
                raise UsageError(
                    f"Commit {sha[:12]} of {self._shown} has a file opsloop will "
                    f"not unpack: {error}. Links must stay inside the repository."
                ) from error

    def _git(self, *args: str) -> str:
        return self._run(list(args), self._mirror).decode(errors="replace")

    def _run(self, args: list[str], git_dir: Path | None) -> bytes:
        command = ["git"]
        if git_dir is not None:
            command += ["--git-dir", str(git_dir)]
        try:
            completed = subprocess.run(
                command + args, capture_output=True, timeout=GIT_TIMEOUT, env=_ENV, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise RepositoryUnavailable(f"git could not reach {self._shown}: {error}") from error
        if completed.returncode != 0:
            detail = completed.stderr.decode(errors="replace").strip().splitlines()
            last = detail[-1] if detail else f"exit {completed.returncode}"
            raise RepositoryUnavailable(f"git failed on {self._shown}: {last[:300]}")
        return completed.stdout

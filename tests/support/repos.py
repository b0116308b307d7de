"""Real git repositories for tests, made with the git program."""

from __future__ import annotations

import subprocess
from pathlib import Path

_IDENTITY = ["-c", "user.name=Test Dev", "-c", "user.email=dev@example.com"]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *_IDENTITY, "-C", str(repo), *args], check=True, capture_output=True)


def make_repo(path: Path, files: dict[str, str | bytes], message: str) -> Path:
    """A new repository on branch main with one commit holding `files`."""
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    commit(path, files, message)
    return path


def commit(repo: Path, files: dict[str, str | bytes], message: str) -> str:
    """Write `files` and commit them; returns the new sha."""
    for name, content in files.items():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content if isinstance(content, bytes) else content.encode()
        target.write_bytes(data)
        if data.startswith(b"#!"):
            target.chmod(0o755)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()

"""The installed opsloop's version, for `opsloop --version` and opsloop_build_info."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def opsloop_version() -> str:
    """The version of the installed distribution; `unknown` when run from a tree that was
    never installed (pip install -e . installs it)."""
    try:
        return version("opsloop")
    except PackageNotFoundError:
        return "unknown"

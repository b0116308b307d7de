"""Where the vendor specs are: tests/vendor/specs in the repository (or OPSLOOP_SPECS)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def specs_dir() -> Path:
    """The vendor specs folder; a test that needs it fails under CI and skips elsewhere."""
    found = Path(os.environ.get("OPSLOOP_SPECS") or REPO / "tests" / "vendor" / "specs")
    if not found.is_dir():
        message = f"vendor specs not found at {found} (set OPSLOOP_SPECS)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found
